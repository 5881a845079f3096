"""Tokens for the API tests: one per kind of holder, configured as the service would
be (their SHA-256 and scopes only), and the guard made from them."""

from __future__ import annotations

import json

from leancrm_servicekit.auth import (
    METRICS_READ,
    PERSONAL_READ,
    WASTE_READ,
    Guard,
    TokenSource,
    new_token,
    token_sha256,
)

#: waste:read and personal:read: everything the API serves
ANALYST = new_token()
#: waste:read only: the figures, customers without name and email
VIEWER = new_token()
#: metrics:read only
SCRAPER = new_token()
#: personal:read without waste:read
PERSONAL_ONLY = new_token()
#: a well-formed token nobody configured
STRANGER = new_token()

HOLDERS = {"analyst": (ANALYST, (WASTE_READ, PERSONAL_READ)), "viewer": (VIEWER, (WASTE_READ,)),
           "scraper": (SCRAPER, (METRICS_READ,)), "personal-only": (PERSONAL_ONLY, (PERSONAL_READ,))}


def tokens_json(**holders: tuple[str, tuple[str, ...]]) -> str:
    """The JSON of LEANCRM_API_TOKENS for ``holders`` (default: every holder above)."""
    chosen = holders or HOLDERS
    return json.dumps([{"name": name, "sha256": token_sha256(token), "scopes": list(scopes)}
                       for name, (token, scopes) in chosen.items()])


def guard() -> Guard:
    return Guard(TokenSource(tokens_json()), "leancrm-waste")


def no_tokens_guard() -> Guard:
    return Guard(TokenSource(None, None), "leancrm-waste")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
