"""Operations tokens: configured hashed, checked in constant time, refused with a reason
(servicekit/auth.py). Pure, but for the token file in a temporary directory."""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path

import pytest

from leancrm_servicekit import auth
from leancrm_servicekit.auth import (
    METRICS_READ,
    PERSONAL_READ,
    WASTE_READ,
    Guard,
    Principal,
    Refusal,
    TokenConfigError,
    TokenSource,
    TokenTable,
    guard_of,
    metrics_guard,
    new_token,
    parse_tokens,
    token_sha256,
)
from leancrm_servicekit.settings import ServiceSettings

ALICE, BOB = new_token(), new_token()


def entry(name: str, token: str, *scopes: str) -> dict[str, object]:
    return {"name": name, "sha256": token_sha256(token), "scopes": list(scopes)}


def doc(*entries: dict[str, object]) -> str:
    return json.dumps(list(entries))


def guard(*entries: dict[str, object]) -> Guard:
    return Guard(TokenSource(doc(*entries)), "leancrm-test")


def test_a_new_token_is_random_urlsafe_and_configured_as_its_sha256() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    for t in tokens:
        assert t.startswith("lcrm_") and len(t) >= 40 and auth._B64TOKEN.fullmatch(t)
    assert token_sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_token_is_known_by_its_hash_only() -> None:
    table = TokenTable(parse_tokens(doc(entry("alice", ALICE, WASTE_READ, PERSONAL_READ),
                                        entry("bob", BOB, METRICS_READ)), "test"))
    assert table.identify(ALICE) == Principal("alice", frozenset({WASTE_READ, PERSONAL_READ}))
    assert table.identify(BOB) == Principal("bob", frozenset({METRICS_READ}))
    assert table.identify(token_sha256(ALICE)) is None  # the hash is not the token
    assert table.identify(ALICE + "x") is None and table.identify("") is None
    upper = parse_tokens(doc({**entry("carol", "t0ken", WASTE_READ),
                              "sha256": token_sha256("t0ken").upper()}), "test")
    assert TokenTable(upper).identify("t0ken") == Principal("carol", frozenset({WASTE_READ}))


def test_every_configured_hash_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: each hash is compared with hmac.compare_digest, even after a match."""
    table = TokenTable(parse_tokens(doc(entry("alice", ALICE, WASTE_READ), entry("bob", BOB, WASTE_READ),
                                        entry("carol", new_token(), WASTE_READ)), "test"))
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return bool(real(a, b))

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert table.identify(ALICE) is not None
    assert len(calls) == 3
    calls.clear()
    assert table.identify(STRANGER := new_token()) is None and STRANGER
    assert len(calls) == 3


def bad(**fields: object) -> str:
    """One entry: a valid one with ``fields`` changed (None drops a field)."""
    e = {"name": "a", "sha256": "0" * 64, "scopes": ["waste:read"], **fields}
    return json.dumps([{k: v for k, v in e.items() if v is not None}])


@pytest.mark.parametrize(("text", "says"), [
    ("{", "LEANCRM_API_TOKENS: not JSON (Expecting property name"),
    ('{"name": "a"}', "must be a JSON list of tokens"),
    (bad(sha256=None), "token 0: sha256: Field required"),
    (bad(scopes=[]), "token 0: scopes: give at least one scope (waste:read, personal:read, metrics:read)"),
    (bad(scopes=["waste:write"]),
     "token 0: scopes: unknown scope 'waste:write' (known: waste:read, personal:read, metrics:read)"),
    (bad(scopes=["waste:read", "waste:read"]), "token 0: scopes: a scope is listed twice"),
    (bad(name="a b"), "token 0: name: must be"),
    (bad(scopes=None, scope=["waste:read"]), "token 0: scopes: Field required"),
    (bad(token="x"), "token 0: token: Extra inputs are not permitted"),
])
def test_a_bad_configuration_is_refused_naming_the_entry_and_field(text: str, says: str) -> None:
    with pytest.raises(TokenConfigError) as err:
        TokenSource(text)
    assert says in str(err.value)


def test_a_token_pasted_where_its_hash_belongs_is_refused_without_repeating_it() -> None:
    secret = new_token()
    with pytest.raises(TokenConfigError) as err:
        TokenSource(json.dumps([{"name": "a", "sha256": secret, "scopes": ["waste:read"]}]))
    assert ("sha256: must be the SHA-256 of the token as 64 hex digits (never the token itself)"
            in str(err.value))
    assert secret not in str(err.value) and secret[5:20] not in repr(err.value)


def test_two_holders_never_share_a_name_or_a_token() -> None:
    with pytest.raises(TokenConfigError, match="two tokens are named 'alice'"):
        TokenSource(doc(entry("alice", ALICE, WASTE_READ), entry("alice", BOB, WASTE_READ)))
    with pytest.raises(TokenConfigError, match="the token 'bob' has the same SHA-256 as another"):
        TokenSource(doc(entry("alice", ALICE, WASTE_READ), entry("bob", ALICE, METRICS_READ)))


def refusal(decision: Principal | Refusal) -> Refusal:
    assert isinstance(decision, Refusal), decision
    return decision


def test_each_refusal_says_what_is_missing() -> None:
    g = guard(entry("alice", ALICE, WASTE_READ, PERSONAL_READ), entry("bob", BOB, METRICS_READ))
    assert g.check(f"Bearer {ALICE}", WASTE_READ) == Principal("alice",
                                                               frozenset({WASTE_READ, PERSONAL_READ}))
    assert g.check(f"bearer  {BOB}", METRICS_READ) == Principal("bob", frozenset({METRICS_READ}))

    for header in (None, "", "   "):
        r = refusal(g.check(header, WASTE_READ))
        assert (r.status, r.reason) == (401, "missing_token")
        assert "needs a bearer token with the scope waste:read" in r.message
        assert "Authorization: Bearer <token>" in r.message
    for header in (f"Basic {ALICE}", "Bearer", f"Bearer {ALICE} more", f"Token {ALICE}"):
        r = refusal(g.check(header, WASTE_READ))
        assert (r.status, r.reason) == (401, "malformed_header"), header
    for token in ("x" * 513, "tok€n", "a,b", "a=b"):
        r = refusal(g.check(f"Bearer {token}", WASTE_READ))
        assert (r.status, r.reason) == (401, "malformed_header") and token not in r.message
    r = refusal(g.check(f"Bearer {new_token()}", WASTE_READ))
    assert (r.status, r.reason, r.message) == (
        401, "unknown_token", "the bearer token is not one this service knows (unknown or revoked)")
    r = refusal(g.check(f"Bearer {BOB}", WASTE_READ))
    assert (r.status, r.reason, r.scope) == (403, "insufficient_scope", WASTE_READ)
    assert r.message == ("the token 'bob' lacks the scope waste:read, which this needs "
                         "(it has: metrics:read)")
    assert r.principal == Principal("bob", frozenset({METRICS_READ}))


def test_with_no_token_configured_everything_is_refused_saying_how_to_configure_one() -> None:
    for g in (Guard(TokenSource(None, None), "x"), Guard(TokenSource("[]"), "x"),
              Guard(TokenSource("  "), "x")):
        for header in (None, f"Bearer {ALICE}"):
            r = refusal(g.check(header, WASTE_READ))
            assert (r.status, r.reason) == (401, "no_token_configured")
            assert "no token is configured on this service" in r.message
            assert "LEANCRM_API_TOKENS or LEANCRM_API_TOKENS_FILE" in r.message
            assert "Security: operations access" in r.message


def test_tokens_from_the_variable_and_the_file_add_up(tmp_path: Path) -> None:
    f = tmp_path / "tokens.json"
    f.write_text(doc(entry("bob", BOB, METRICS_READ)))
    g = Guard(TokenSource(doc(entry("alice", ALICE, WASTE_READ)), f), "x")
    assert isinstance(g.check(f"Bearer {ALICE}", WASTE_READ), Principal)
    assert isinstance(g.check(f"Bearer {BOB}", METRICS_READ), Principal)
    with pytest.raises(TokenConfigError, match="two tokens are named 'alice'"):
        f.write_text(doc(entry("alice", BOB, METRICS_READ)))
        TokenSource(doc(entry("alice", ALICE, WASTE_READ)), f)


def test_the_file_is_read_again_when_it_changes_and_fails_closed(tmp_path: Path) -> None:
    f = tmp_path / "tokens.json"
    f.write_text(doc(entry("alice", ALICE, WASTE_READ)))
    g = Guard(TokenSource(None, f), "x")
    assert isinstance(g.check(f"Bearer {ALICE}", WASTE_READ), Principal)

    # rotated: alice revoked, bob added (a new file put in place, as a Kubernetes secret is)
    new = tmp_path / "tokens.new"
    new.write_text(doc(entry("bob", BOB, WASTE_READ)))
    os.replace(new, f)
    assert refusal(g.check(f"Bearer {ALICE}", WASTE_READ)).reason == "unknown_token"
    assert isinstance(g.check(f"Bearer {BOB}", WASTE_READ), Principal)

    # broken: nothing is accepted (a revocation never fails silently) until it is fixed
    f.write_text('[{"name": "bob"')
    r = refusal(g.check(f"Bearer {BOB}", WASTE_READ))
    assert (r.status, r.reason) == (503, "configuration_unusable")
    f.unlink()
    assert refusal(g.check(f"Bearer {BOB}", WASTE_READ)).reason == "configuration_unusable"
    f.write_text(doc(entry("bob", BOB, WASTE_READ)))
    assert isinstance(g.check(f"Bearer {BOB}", WASTE_READ), Principal)


def test_a_file_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(TokenConfigError, match=r"LEANCRM_API_TOKENS_FILE \(.*missing.json\): cannot be read"):
        TokenSource(None, tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe[]")
    with pytest.raises(TokenConfigError, match="cannot be read: UnicodeDecodeError"):
        TokenSource(None, bad)


def test_settings_give_the_guard_and_a_bad_configuration_stops_the_service(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEANCRM_API_TOKENS", doc(entry("alice", ALICE, WASTE_READ)))
    f = tmp_path / "t.json"
    f.write_text(doc(entry("bob", BOB, METRICS_READ)))
    monkeypatch.setenv("LEANCRM_API_TOKENS_FILE", str(f))
    s = ServiceSettings()
    assert s.api_tokens_file == f and s.metrics_require_token is False
    g = guard_of(s, "leancrm-test")
    assert isinstance(g.check(f"Bearer {ALICE}", WASTE_READ), Principal)
    assert isinstance(g.check(f"Bearer {BOB}", METRICS_READ), Principal)
    assert metrics_guard(s, "x") is None
    monkeypatch.setenv("LEANCRM_METRICS_REQUIRE_TOKEN", "true")
    assert metrics_guard(ServiceSettings(), "x") is not None

    monkeypatch.setenv("LEANCRM_API_TOKENS", json.dumps([{"name": "a", "sha256": ALICE, "scopes": []}]))
    with pytest.raises(SystemExit) as stop:
        guard_of(ServiceSettings(), "x")
    assert str(stop.value).startswith(
        "the operations tokens cannot be used: LEANCRM_API_TOKENS: token 0: sha256")
    assert ALICE not in str(stop.value)
