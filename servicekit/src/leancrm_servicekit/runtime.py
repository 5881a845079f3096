"""How a service's process runs: its entry points' event loop, and the tuning every
service applies at start-up.

``run_configured`` runs an entry point's coroutine; settings that cannot work
(:class:`~leancrm_servicekit.settings.ConfigurationError`, raised wherever they are
found out: reading the settings, loading a certificate, a server's certificate that
does not verify) end the process with their message and status 1, not a traceback.

The garbage collector: Python collects its youngest generation every 700 net
allocations of container objects. A consumer decoding a batch of thousands of events
allocates hundreds of thousands of dicts and models, nearly all freed by reference
counting, so those collections find almost nothing and cost a quarter of the waste
projector's CPU (measured with its apply path in process: 25k → 33k events per CPU
second at 50,000). Raising the first threshold keeps cyclic garbage collected, just in
larger, rarer sweeps; ``gc.freeze()`` moves what start-up created (modules, pydantic
schemas) out of every later sweep.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.settings import ConfigurationError

T = TypeVar("T")
log = get_logger(component="runtime")

#: Python's own default for the youngest generation
PYTHON_DEFAULT_GEN0 = 700


def tune_gc(gen0_threshold: int) -> None:
    """Freeze what exists now and collect generation 0 every ``gen0_threshold``
    allocations (0: keep Python's defaults)."""
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def run_configured(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``; a :class:`ConfigurationError` is logged and ends the process
    with its message (which names the variables) and status 1."""
    try:
        return asyncio.run(main)
    except ConfigurationError as exc:
        log.error("configuration_error", error=str(exc))
        raise SystemExit(f"error: {exc}") from None
