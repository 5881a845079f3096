"""scripts/run's token for the local run: the waste service is given its SHA-256 and
scopes only, after any tokens already configured."""

from __future__ import annotations

import json

import pytest

from leancrm_devstack.launcher import run_token_environment
from leancrm_servicekit.auth import Guard, Principal, TokenSource, new_token, token_sha256


def test_the_waste_service_is_given_the_hash_of_the_runs_token_and_never_the_token() -> None:
    token = new_token()
    env = run_token_environment(token, {})
    assert set(env) == {"LEANCRM_API_TOKENS"} and token not in env["LEANCRM_API_TOKENS"]
    assert json.loads(env["LEANCRM_API_TOKENS"]) == [
        {"name": "scripts-run", "sha256": token_sha256(token), "scopes": ["waste:read", "personal:read"]}]
    guard = Guard(TokenSource(env["LEANCRM_API_TOKENS"]), "leancrm-waste")
    assert guard.check(f"Bearer {token}", "personal:read") == Principal(
        "scripts-run", frozenset({"waste:read", "personal:read"}))


def test_tokens_already_configured_are_kept_and_a_bad_variable_is_named() -> None:
    theirs = [{"name": "alice", "sha256": "a" * 64, "scopes": ["waste:read"]}]
    env = run_token_environment(new_token(), {"LEANCRM_API_TOKENS": json.dumps(theirs)})
    assert [t["name"] for t in json.loads(env["LEANCRM_API_TOKENS"])] == ["alice", "scripts-run"]
    with pytest.raises(SystemExit, match="LEANCRM_API_TOKENS is set but is not a JSON list"):
        run_token_environment(new_token(), {"LEANCRM_API_TOKENS": "{"})
