"""The harness under test (tools/chaos, package ``leancrm_chaos``), for these tests.

At run time it is the installed ``leancrm_chaos``. mypy, run from the repository root
over ``tools/chaos/src tests/faults``, knows those files by their path
(``tools.chaos.src.leancrm_chaos``: the root's mypy_path does not list tools/chaos/src),
and would find them twice if the tests imported them by their package name.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.chaos.src.leancrm_chaos import (
        checks,
        config,
        faults,
        journal,
        malformed,
        processes,
        report,
        run,
        settle,
        topics,
        traffic,
    )
else:
    from leancrm_chaos import (
        checks,
        config,
        faults,
        journal,
        malformed,
        processes,
        report,
        run,
        settle,
        topics,
        traffic,
    )

__all__ = ["checks", "config", "faults", "journal", "malformed", "processes", "report", "run",
           "settle", "topics", "traffic"]
