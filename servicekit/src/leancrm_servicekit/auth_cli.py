"""The ``token`` command group of a service's CLI: make a token and its configuration
entry, hash a token you already have, list what a service is configured to accept.

The token is printed once and stored nowhere; only the entry (its SHA-256 and scopes)
goes into ``LEANCRM_API_TOKENS`` or the file of ``LEANCRM_API_TOKENS_FILE``.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from leancrm_servicekit.auth import (
    SCOPES,
    WASTE_READ,
    TokenConfigError,
    TokenEntry,
    TokenSource,
    new_token,
    reason,
    token_sha256,
)
from leancrm_servicekit.settings import ServiceSettings

NameOpt = Annotated[str, typer.Option(help="Who or what will hold the token (letters, digits, _ . @ -)")]
ScopesOpt = Annotated[list[str], typer.Option(
    "--scopes", "--scope",
    help=f"Scopes, comma-separated or repeated ({', '.join(SCOPES)})")]


def _entry(name: str, token: str, scopes: list[str]) -> TokenEntry:
    wanted = [s.strip() for value in scopes for s in value.split(",") if s.strip()]
    try:
        return TokenEntry(name=name, sha256=token_sha256(token), scopes=tuple(wanted))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise typer.BadParameter(f"--{first['loc'][0]}: {reason(first['msg'])}") from None


def _json(entry: TokenEntry) -> str:
    return json.dumps(entry.model_dump(mode="json"))


def token_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, no_args_is_help=True,
                      help="Operations tokens: make one, hash one, list the configured ones.")

    @app.command("new")
    def new(name: NameOpt, scopes: ScopesOpt = [WASTE_READ],  # noqa: B006 - typer reads it
            json_out: Annotated[bool, typer.Option("--json", help="One JSON object: token and entry")]
            = False) -> None:
        """Make a random token (256 bits) and print it with its configuration entry."""
        token = new_token()
        entry = _entry(name, token, scopes)
        if json_out:
            typer.echo(json.dumps({"token": token, "entry": entry.model_dump(mode="json")}))
            return
        typer.echo(f"token for {name} (shown once, stored nowhere; give it to them over a safe channel):")
        typer.echo(f"  {token}")
        typer.echo("its entry for LEANCRM_API_TOKENS or LEANCRM_API_TOKENS_FILE (a JSON list of these):")
        typer.echo(f"  {_json(entry)}")

    @app.command("hash")
    def hash_(name: NameOpt, scopes: ScopesOpt = [WASTE_READ]) -> None:  # noqa: B006
        """The configuration entry of a token read from standard input (never from the
        command line, where other users could see it)."""
        token = sys.stdin.readline().strip()
        if not token:
            raise typer.BadParameter("give the token on standard input, e.g. `printf %s \"$TOKEN\" | ...`")
        typer.echo(_json(_entry(name, token, scopes)))

    @app.command("list")
    def list_() -> None:
        """The tokens this service's settings accept: names and scopes (checks the
        configuration as the service would at start-up)."""
        try:
            source = TokenSource.of(ServiceSettings())
        except TokenConfigError as exc:
            typer.echo(f"the token configuration cannot be used: {exc}", err=True)
            raise typer.Exit(2) from None
        table = source.table()
        assert not isinstance(table, TokenConfigError)
        if not len(table):
            typer.echo("no token is configured: everything protected answers 401")
        for name, scopes in table.scopes_by_name():
            typer.echo(f"{name}: {', '.join(sorted(scopes))}")

    return app
