"""The README's first command, `scripts/run`, on the embedded defaults: the stack
starts, production's database set-up gives each service its own role, every service
is ready, a simulated day flows through, the huddle report and the dashboard address
are printed with the run's operations token, and everything stops cleanly.
(`scripts/run` = bootstrap + this launcher; `--exit-when-done` stops it after the report
instead of waiting for Ctrl-C.)"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import asyncpg
import pytest

from leancrm_devstack.embedded import EmbeddedPostgres
from leancrm_devstack.launcher import installed_services, ports_in_use
from leancrm_devstack.local_database import DATABASE, dsn_with

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def test_the_run_command_shows_the_system_working(tmp_path: Path) -> None:
    busy = ports_in_use(installed_services())
    if busy:
        pytest.skip(f"ports {busy} are taken (is scripts/run running?): the launcher needs them")
    env = {k: v for k, v in os.environ.items()
           if k not in ("LEANCRM_KAFKA_BOOTSTRAP", "LEANCRM_DATABASE_URL")}
    env["COLUMNS"] = "200"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leancrm_devstack.launcher", "--days", "1", "--exit-when-done",
        "--workdir", str(tmp_path), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out_b, _ = await asyncio.wait_for(proc.communicate(), 240)
    except TimeoutError:
        proc.terminate()
        out_b, _ = await proc.communicate()
        pytest.fail(f"scripts/run did not finish in 240 s:\n{out_b.decode(errors='replace')[-4000:]}")
    out = out_b.decode(errors="replace")
    assert proc.returncode == 0, out[-4000:]

    for s in installed_services():
        assert f"✓ {s.name} ready on http://127.0.0.1:{s.port}" in out, out
    assert "each service as its own role" in out
    assert "Simulated " in out and " commands in " in out
    huddle = out[out.index("Daily huddle"):]
    for section in ("The seven wastes", "Key rates", "Top three wastes by cost",
                    "Worst reasons by failure demand"):
        assert section in huddle, huddle
    assert "Dashboard: http://127.0.0.1:8104/" in out
    # the run's token, printed beside the dashboard with a curl example; the launcher reads
    # the projector's lag with it, so the run could not have settled had the service refused it
    token = re.search(r"Operations token for this run \(waste:read, personal:read;[^\n]*\n\s+(\S+)\n", out)
    assert token, out[-4000:]
    secret = token.group(1)
    assert f"Dashboard:  http://127.0.0.1:8104/#token={secret}" in out
    assert f'curl -H "Authorization: Bearer {secret}" http://127.0.0.1:8104/api/v1/summary' in out
    assert out.rstrip().endswith("Stopped."), out[-500:]
    assert ports_in_use(installed_services()) == []

    logs = {p.stem: p.read_text() for p in (tmp_path / "logs").glob("*.log")}
    assert set(logs) == {s.name for s in installed_services()}
    for name, text in logs.items():
        assert '"level": "error"' not in text, (name, text[-3000:])
        assert secret not in text, name  # never logged
    assert '"event": "api_tokens_loaded"' in logs["waste"] and '"scripts-run"' in logs["waste"]
    assert "ops_role_not_managed" not in logs["waste"], "leancrm_ops was set up by the init script"
    for name, text in logs.items():  # each ran as a role that may not change its schema
        assert '"event": "migrated"' in text, name
        assert "runtime_role_may_change_schema" not in text, name

    # the data stays in the work directory: each service's tables belong to its schema's
    # owner, which migrated it (the service ran as its own role, rows only)
    pg = EmbeddedPostgres(tmp_path / "stack" / "pgdata").start()
    try:
        conn = await asyncpg.connect(dsn_with(pg.dsn, database=DATABASE))
        try:
            owners = {r["schemaname"]: r["tableowner"] for r in await conn.fetch(
                "SELECT schemaname, tableowner FROM pg_tables "
                "WHERE tablename IN ('events', 'active_store')")}
            assert owners == {"customers": "customers_owner", "interactions": "interactions_owner",
                              "feedback": "feedback_owner", "waste_service": "waste_owner"}
            stored = await conn.fetchval("SELECT count(*) FROM interactions.events")
            assert stored > 500
        finally:
            await conn.close()
    finally:
        pg.stop()
