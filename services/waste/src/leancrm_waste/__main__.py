"""`python -m leancrm_waste [serve|migrate|rebuild|huddle|token|dlq|parked]`."""

from __future__ import annotations

import asyncio
import signal

import typer

from leancrm_servicekit.logging import configure_logging
from leancrm_servicekit.runtime import run_configured, tune_gc
from leancrm_servicekit.settings import load_settings
from leancrm_waste.settings import WasteSettings

app = typer.Typer(add_completion=False, help="The Lean CRM waste projector.")


@app.command()
def serve() -> None:
    """Keep the waste read model live and serve it (API, dashboard, health, metrics)."""
    from leancrm_waste.service import WasteService

    async def main() -> None:
        settings = load_settings(WasteSettings)
        configure_logging("waste", settings.log_level)
        service = WasteService(settings)
        await service.start()
        tune_gc(settings.gc_gen0_threshold)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await service.stop()

    run_configured(main())


@app.command()
def migrate() -> None:
    """Apply the schema's migrations and make or update the read model's store and views,
    as the schema's owner (LEANCRM_MIGRATION_DATABASE_URL, else LEANCRM_DATABASE_URL), and
    exit: run it before the service, which then needs no right to change its schema."""
    from leancrm_servicekit.bootstrap import migrate_only
    from leancrm_waste.service import DEFAULT_SCHEMA, NAME, prepare_schema

    async def main() -> tuple[str, list[str]]:
        settings = load_settings(WasteSettings)
        configure_logging(NAME, settings.log_level)
        schema = settings.db_schema or DEFAULT_SCHEMA
        return await migrate_only(NAME, settings, default_schema=schema,
                                  prepare=lambda conn: prepare_schema(conn, schema, settings))

    schema, applied = run_configured(main())
    typer.echo(f"schema {schema}: {len(applied)} migration(s) applied"
               + (f" ({', '.join(applied)})" if applied else ", it was up to date")
               + "; the read model's store and views are up to date")


@app.command()
def rebuild(
    drop_old: bool = typer.Option(False, help="Drop the previous store after the switch"),
    timeout: float = typer.Option(3600, min=1, help="Give up when not caught up after this many s"),
) -> None:
    """Replay the event topics from the beginning into a fresh read model and switch the
    views to it atomically."""
    from leancrm_waste.projection.rebuild import rebuild as run_rebuild

    settings = load_settings(WasteSettings)
    configure_logging("waste", "WARNING")
    tune_gc(settings.gc_gen0_threshold)
    new, old, applied, seconds = run_configured(
        run_rebuild(settings, drop_old=drop_old, timeout_s=timeout))
    typer.echo(f"rebuilt {applied:,} events into {new} in {seconds:.1f}s; views switched"
               f" (previous store: {old or 'none'}{', dropped' if drop_old and old else ''})")


def _register_parking_lot() -> None:
    from leancrm_contracts.topics import EVENT_TOPICS
    from leancrm_servicekit.parking_lot import operations_app

    dlq, parked = operations_app("waste", list(EVENT_TOPICS), "waste_service", WasteSettings)
    app.add_typer(dlq, name="dlq")
    app.add_typer(parked, name="parked")


_register_parking_lot()


def _register_token() -> None:
    from leancrm_servicekit.auth_cli import token_app

    app.add_typer(token_app(), name="token")


_register_token()


def _register_huddle() -> None:
    from leancrm_waste.huddle.cli import register

    register(app)


_register_huddle()


def main() -> None:
    import sys

    if len(sys.argv) == 1:
        sys.argv.append("serve")
    app()


if __name__ == "__main__":
    main()
