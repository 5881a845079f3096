"""Scenarios shared by the unit tests (each generated once per session: generation is pure)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest

from leancrm_simulator.knobs import Knobs
from leancrm_simulator.model import SimCommand
from leancrm_simulator.scenario import generate

#: Small enough to be quick, big enough for the knobs' effects to stand out of the noise.
BASE = Knobs(seed=11, customers=300, days=7)

Make = Callable[[Knobs], tuple[SimCommand, ...]]


@cache
def _scenario(knobs: Knobs) -> tuple[SimCommand, ...]:
    return tuple(generate(knobs))


@pytest.fixture(scope="session")
def make() -> Make:
    """The (cached) commands of a scenario."""
    return _scenario


@pytest.fixture(scope="session")
def base() -> Knobs:
    return BASE


@pytest.fixture(scope="session")
def base_commands() -> tuple[SimCommand, ...]:
    return _scenario(BASE)
