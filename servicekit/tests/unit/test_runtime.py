"""tune_gc: the collector thresholds a service runs with."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from leancrm_servicekit.runtime import tune_gc


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_raises_the_youngest_threshold_and_freezes_startup_objects(restore_gc: None) -> None:
    _, gen1, gen2 = gc.get_threshold()
    tune_gc(50_000)
    assert gc.get_threshold() == (50_000, gen1, gen2)
    assert gc.get_freeze_count() > 0


def test_zero_keeps_pythons_defaults(restore_gc: None) -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    tune_gc(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_cyclic_garbage_is_still_collected(restore_gc: None) -> None:
    tune_gc(1_000)

    class Node:
        def __init__(self) -> None:
            self.me = self

    ref = weakref.ref(Node())
    kept = [[] for _ in range(5_000)]  # net allocations past the threshold: a collection
    assert ref() is None
    assert len(kept) == 5_000
