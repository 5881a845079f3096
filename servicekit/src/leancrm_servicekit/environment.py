"""``LEANCRM_*`` variables that nothing reads: named at start-up, never silently dropped.

Settings ignore variables they do not know (one environment is shared by every service
and the tools), so a misspelt ``LEANCRM_KAFKA_SECURITY_PROTCOL=SASL_SSL`` would leave a
service on its default without a word. Each service process therefore compares its
environment with every variable something in Lean CRM reads, and names each one it
does not know with the closest known name. The known names are derived from the
settings classes of every installed service (loaded through the ``leancrm.services``
entry points, as ``scripts/run`` finds them), so that a variable of the waste projector
in a shared ConfigMap is not flagged in the customers service; the variables tools,
tests and the deployment read outside any settings class are listed here.

By default an unknown variable is a warning (``LEANCRM_UNKNOWN_VARIABLES=fail`` makes
it an error): see the README, "Configuration", for why.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib.metadata
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings

log = get_logger(component="settings")

PREFIX = "LEANCRM_"
#: variables read outside any settings class, and who reads them
READ_ELSEWHERE: dict[str, str] = {
    "LEANCRM_SERVICE": "the image's command (deploy/Dockerfile)",
    "LEANCRM_INIT_SQL": "scripts/run (tools/devstack)",
    "LEANCRM_HOME": "the embedded stack (tools/devstack)",
    "LEANCRM_DASHBOARD_SCREENSHOT": "the dashboard's browser test",
    "LEANCRM_CHROMIUM": "the dashboard's browser test",
    "LEANCRM_NPM_CACHE": "the other-systems tests",
    "LEANCRM_IMAGE": "deploy/compose.yaml",
    "LEANCRM_DB": "deploy/postgres/initdb.d",
    "LEANCRM_DASHBOARD_ADDRESS": "deploy/compose.yaml",
    "LEANCRM_DASHBOARD_PORT": "deploy/compose.yaml",
}
#: families of variables other tools read: the simulator, the chaos suite, the tests
READ_ELSEWHERE_PREFIXES = ("LEANCRM_SIM_", "LEANCRM_CHAOS_", "LEANCRM_TEST_")
#: the database passwords deploy/compose.yaml hands PostgreSQL's init script
_DB_PASSWORD = re.compile(r"^LEANCRM_[A-Z]+_DB_PASSWORD$")


@dataclass(frozen=True)
class UnknownVariable:
    name: str
    closest: str | None

    def __str__(self) -> str:
        hint = f" (did you mean {self.closest}?)" if self.closest else ""
        return f"{self.name} is not read by any Lean CRM service or tool{hint}"


def variables_of(settings_type: type[BaseSettings]) -> set[str]:
    """The environment variables ``settings_type`` reads (its prefix and field names, or
    the fields' aliases), upper-cased."""
    prefix = str(settings_type.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field, info in settings_type.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names.add(f"{prefix}{info.alias or field}".upper())
    return names


@functools.cache
def _load_services() -> None:
    """Import every installed service's declaration, so that their settings classes exist."""
    for entry in importlib.metadata.entry_points(group="leancrm.services"):
        with contextlib.suppress(Exception):  # a broken package is reported where it runs
            entry.load()


def settings_classes() -> list[type[BaseSettings]]:
    """Every settings class with the ``LEANCRM_`` prefix of the installed services."""
    _load_services()
    found: list[type[BaseSettings]] = []
    pending: list[type[BaseSettings]] = [BaseSettings]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                pending.append(sub)
                if str(sub.model_config.get("env_prefix", "")).upper() == PREFIX:
                    found.append(sub)
    return found


def known_variables(settings_types: Iterable[type[BaseSettings]] = ()) -> set[str]:
    """Every variable a settings class reads (those given, ServiceSettings and every
    installed service's), and those read elsewhere."""
    names = set(READ_ELSEWHERE)
    classes: list[type[BaseSettings]] = [ServiceSettings, *settings_types, *settings_classes()]
    for cls in classes:
        names |= variables_of(cls)
    return names


def unknown_variables(environ: Mapping[str, str], known: set[str]) -> list[UnknownVariable]:
    """The ``LEANCRM_*`` variables of ``environ`` that nothing reads, each with the known
    name closest to it (difflib), if any is close."""
    unknown = []
    for name in sorted(environ):
        upper = name.upper()
        if (not upper.startswith(PREFIX) or upper in known or upper.startswith(READ_ELSEWHERE_PREFIXES)
                or _DB_PASSWORD.match(upper)):
            continue
        # compared without the prefix every name shares, which would make any two close
        closest = difflib.get_close_matches(upper.removeprefix(PREFIX),
                                            sorted(k.removeprefix(PREFIX) for k in known), n=1, cutoff=0.6)
        unknown.append(UnknownVariable(name, PREFIX + closest[0] if closest else None))
    return unknown


def check_environment(settings: BaseSettings, environ: Mapping[str, str] | None = None
                      ) -> list[UnknownVariable]:
    """Name every unknown ``LEANCRM_*`` variable: a warning each, or, when the settings
    say ``unknown_variables=fail``, a :class:`ConfigurationError` naming them all."""
    environ = os.environ if environ is None else environ
    unknown = unknown_variables(environ, known_variables([type(settings)]))
    if unknown and getattr(settings, "unknown_variables", "warn") == "fail":
        raise ConfigurationError(
            "unknown variables (LEANCRM_UNKNOWN_VARIABLES=fail):\n  "
            + "\n  ".join(str(u) for u in unknown))
    for u in unknown:
        log.warning("unknown_variable", variable=u.name, did_you_mean=u.closest,
                    message=f"{u}: it has no effect")
    return unknown
