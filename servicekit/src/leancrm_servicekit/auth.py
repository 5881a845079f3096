"""Operations access: bearer tokens, each configured only as its SHA-256, with scopes.

Scopes (README, "Security: operations access"):

- ``waste:read``: the waste read model over HTTP — every view, the summary, the lag,
  the dashboard's data;
- ``personal:read``: name and email in ``/api/v1/customers`` (withheld without it);
- ``metrics:read``: ``/metrics``, when a service is told to protect it
  (``LEANCRM_METRICS_REQUIRE_TOKEN=true``).

A service reads its tokens from ``LEANCRM_API_TOKENS`` and/or ``LEANCRM_API_TOKENS_FILE``
(a mounted secret, read again when it changes): a JSON list of
``{"name": "...", "sha256": "<64 hex digits>", "scopes": ["waste:read", ...]}``. The
token itself is never configured, stored or logged: a request's token is hashed and the
hash compared with every configured one in constant time. With no token configured,
everything protected answers 401 saying how to configure one.

No I/O here but reading the token file; the HTTP answers are made by
:mod:`leancrm_servicekit.http`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from leancrm_servicekit.logging import get_logger

log = get_logger(component="auth")

WASTE_READ: Final = "waste:read"
PERSONAL_READ: Final = "personal:read"
METRICS_READ: Final = "metrics:read"
#: every scope a token may carry, and what it allows
SCOPES: Final[Mapping[str, str]] = {
    WASTE_READ: "the waste read model over HTTP: every view, the summary, the lag, the dashboard's data",
    PERSONAL_READ: "name and email in /api/v1/customers (withheld without it)",
    METRICS_READ: "/metrics, when LEANCRM_METRICS_REQUIRE_TOKEN=true",
}

#: what tokens made here start with (so secret scanners and people recognise one)
TOKEN_PREFIX: Final = "lcrm_"
#: a presented token longer than this is refused before it is hashed
MAX_TOKEN_CHARS: Final = 512
#: RFC 6750's b64token: the characters a bearer token may have
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
WHERE: Final = ("set LEANCRM_API_TOKENS or LEANCRM_API_TOKENS_FILE to a JSON list of "
                '{"name", "sha256", "scopes"} — the SHA-256 of each token, never the token '
                "(README: 'Security: operations access')")


def new_token() -> str:
    """A fresh random token: 256 bits from the OS's generator, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    """What is configured for ``token``: its SHA-256 as 64 lowercase hex digits."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenConfigError(ValueError):
    """The token configuration is not usable; the message names where and what, never a
    configured value."""


class TokenEntry(BaseModel):
    """One configured token: who holds it, the SHA-256 of it, what it may do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Who or what holds the token (shown in 403 answers and logs).")
    sha256: str = Field(description="The SHA-256 of the token, 64 hex digits.")
    scopes: tuple[str, ...] = Field(description=f"What it may do: some of {', '.join(SCOPES)}.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError("must be 1 to 64 letters, digits or _ . @ - (starting with a letter or digit)")
        return v

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, v: str) -> str:
        if not _SHA256.fullmatch(v):
            raise ValueError("must be the SHA-256 of the token as 64 hex digits (never the token itself)")
        return v.lower()

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError(f"give at least one scope ({', '.join(SCOPES)})")
        unknown = [s for s in v if s not in SCOPES]
        if unknown:
            raise ValueError(f"unknown scope {unknown[0]!r} (known: {', '.join(SCOPES)})")
        if len(set(v)) != len(v):
            raise ValueError("a scope is listed twice")
        return v


def reason(pydantic_message: str) -> str:
    """A validation message without pydantic's ``Value error, ``."""
    return pydantic_message.removeprefix("Value error, ")


def parse_tokens(text: str, source: str) -> tuple[TokenEntry, ...]:
    """The tokens of one JSON document, or a :class:`TokenConfigError` naming ``source``,
    the entry and the field. Messages never repeat a value given (a token pasted where
    its hash belongs must not reach a log)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TokenConfigError(f"{source}: not JSON ({exc.msg} at line {exc.lineno}, "
                               f"column {exc.colno})") from None
    if not isinstance(doc, list):
        raise TokenConfigError(f"{source}: must be a JSON list of tokens, "
                               '[{"name": ..., "sha256": ..., "scopes": [...]}, ...]')
    entries = []
    for i, item in enumerate(doc):
        try:
            entries.append(TokenEntry.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the entry"
            raise TokenConfigError(f"{source}: token {i}: {where}: {reason(first['msg'])}") from None
    return tuple(entries)


def check_unique(entries: Iterable[TokenEntry]) -> tuple[TokenEntry, ...]:
    """``entries`` when no two share a name or a hash."""
    seen_names: set[str] = set()
    seen_hashes: set[str] = set()
    out = tuple(entries)
    for e in out:
        if e.name in seen_names:
            raise TokenConfigError(f"two tokens are named {e.name!r}: give each its own name")
        if e.sha256 in seen_hashes:
            raise TokenConfigError(f"the token {e.name!r} has the same SHA-256 as another: "
                                   "make each holder a token of its own")
        seen_names.add(e.name)
        seen_hashes.add(e.sha256)
    return out


@dataclass(frozen=True)
class Principal:
    """Who a request's token belongs to, and what it may do."""

    name: str
    scopes: frozenset[str]


class TokenTable:
    """The configured tokens, looked up by the SHA-256 of a presented token."""

    def __init__(self, entries: Iterable[TokenEntry]) -> None:
        self._entries = tuple((bytes.fromhex(e.sha256), Principal(e.name, frozenset(e.scopes)))
                              for e in check_unique(entries))

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def names(self) -> list[str]:
        return [p.name for _, p in self._entries]

    def scopes_by_name(self) -> list[tuple[str, frozenset[str]]]:
        return [(p.name, p.scopes) for _, p in self._entries]

    def identify(self, token: str) -> Principal | None:
        """The holder of ``token``, comparing its hash with every configured hash in
        constant time (no early exit: the time taken says nothing of which one matched)."""
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found: Principal | None = None
        for configured, principal in self._entries:
            if hmac.compare_digest(configured, digest):
                found = principal
        return found


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class TokenSource:
    """The tokens of ``LEANCRM_API_TOKENS`` and those of ``LEANCRM_API_TOKENS_FILE``
    together. The file is read again when it changes (a rotated Kubernetes secret, a
    revoked token) without a restart; if it can no longer be read or parsed, nothing is
    accepted until it is fixed (fail closed: a revocation never silently fails)."""

    def __init__(self, text: str | None = None, file: Path | None = None) -> None:
        self.file = file
        self._from_text = parse_tokens(text, "LEANCRM_API_TOKENS") if text and text.strip() else ()
        self._signature: tuple[int, int, int] | None = None
        self._error: TokenConfigError | None = None
        self._table = TokenTable(self._from_text + self._read_file())  # raises at start-up

    @classmethod
    def of(cls, settings: Any) -> TokenSource:
        """From a ``ServiceSettings`` (``api_tokens``, ``api_tokens_file``)."""
        return cls(settings.api_tokens, settings.api_tokens_file)

    def _read_file(self) -> tuple[TokenEntry, ...]:
        if self.file is None:
            return ()
        where = f"LEANCRM_API_TOKENS_FILE ({self.file})"
        self._signature = _signature(self.file)
        try:
            text = self.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenConfigError(f"{where}: cannot be read: {type(exc).__name__}: "
                                   f"{getattr(exc, 'strerror', None) or exc}") from None
        return parse_tokens(text, where)

    def table(self) -> TokenTable | TokenConfigError:
        """The tokens now, or why none can be trusted (the file changed into something
        that cannot be used)."""
        if self.file is not None and _signature(self.file) != self._signature:
            try:
                self._table = TokenTable(self._from_text + self._read_file())
                self._error = None
                log.info("api_tokens_reloaded", tokens=len(self._table), names=self._table.names)
            except TokenConfigError as exc:
                self._error = exc
                log.error("api_tokens_unusable", error=str(exc))
        return self._error or self._table


RefusalReason = Literal["no_token_configured", "missing_token", "malformed_header", "unknown_token",
                        "insufficient_scope", "configuration_unusable"]


@dataclass(frozen=True)
class Refusal:
    """Why a request may not have what it asked for: ``status`` 401 (no usable token),
    403 (the token lacks ``scope``) or 503 (the configuration cannot be used)."""

    status: int
    reason: RefusalReason
    message: str
    scope: str
    principal: Principal | None = None


class Guard:
    """Decides, for a request's ``Authorization`` header, whether it may use ``scope``."""

    def __init__(self, source: TokenSource, realm: str) -> None:
        self.source = source
        self.realm = realm

    def check(self, authorization: str | None, scope: str) -> Principal | Refusal:
        assert scope in SCOPES, scope
        table = self.source.table()
        if isinstance(table, TokenConfigError):
            return Refusal(503, "configuration_unusable", "the service's token configuration cannot "
                           "be used now (its log says why); nothing is accepted until it is fixed",
                           scope)
        if len(table) == 0:
            return Refusal(401, "no_token_configured", f"this needs a bearer token with the scope "
                           f"{scope}, and no token is configured on this service: {WHERE}", scope)
        if not authorization or not authorization.strip():
            return Refusal(401, "missing_token", f"this needs a bearer token with the scope {scope}: "
                           "send the header 'Authorization: Bearer <token>'", scope)
        parts = authorization.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return Refusal(401, "malformed_header", "the Authorization header must be 'Bearer <token>' "
                           f"(a token with the scope {scope})", scope)
        token = parts[1]
        if len(token) > MAX_TOKEN_CHARS or not _B64TOKEN.fullmatch(token):
            return Refusal(401, "malformed_header", f"the bearer token is not a token (at most "
                           f"{MAX_TOKEN_CHARS} of the characters A-Z a-z 0-9 - . _ ~ + / =)", scope)
        principal = table.identify(token)
        if principal is None:
            return Refusal(401, "unknown_token", "the bearer token is not one this service knows "
                           "(unknown or revoked)", scope)
        if scope not in principal.scopes:
            return Refusal(403, "insufficient_scope", f"the token {principal.name!r} lacks the scope "
                           f"{scope}, which this needs (it has: {', '.join(sorted(principal.scopes))})",
                           scope, principal)
        return principal


def guard_of(settings: Any, realm: str) -> Guard:
    """The guard of a service's settings; a configuration that cannot be used stops the
    service at start-up with a message saying what to fix."""
    try:
        source = TokenSource.of(settings)
    except TokenConfigError as exc:
        raise SystemExit(f"the operations tokens cannot be used: {exc}") from None
    table = source.table()
    assert isinstance(table, TokenTable)
    if len(table):
        log.info("api_tokens_loaded", tokens=len(table), names=table.names,
                 file=str(source.file) if source.file else None)
    else:
        log.warning("api_tokens_not_configured",
                    consequence="whatever needs a token answers 401 until one is configured",
                    how=WHERE)
    return Guard(source, realm)


def metrics_guard(settings: Any, realm: str) -> Guard | None:
    """The guard of ``/metrics`` when the settings protect it, else None (open)."""
    return guard_of(settings, realm) if settings.metrics_require_token else None

