"""One chaos run, start to finish: ``await run_chaos(RunConfig(...))`` returns the report.

1. an embedded PostgreSQL (set up with deploy's init script: one role per service) and
   an embedded broker with every topic;
2. the eight service processes (three consumers, three relays, two projectors), each
   ready; a reader of every topic; baseline probes;
3. the fault window: the simulator's seeded traffic, and meanwhile the planned kills,
   PostgreSQL restarts, broker pause and hostile records, each followed by probes;
4. settling, with a deadline; every topic read again from the beginning; the databases;
5. the checks, a rebuild of the read model to compare with, the simulator's figures;
6. the report. Every process the run started is stopped on the way out, whatever
   happens (an exception, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import subprocess
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from leancrm_simulator.figures import measure
from leancrm_simulator.model import SimCommand

from . import checks as chk
from . import readmodel
from .config import RunConfig
from .faults import BROKER_PAUSE, FAULT_KINDS, KILL, MALFORMED, PG_RESTART, Injector, plan_faults
from .journal import Journal, wall_time
from .logs import LogSummary, find_lines, scan_log
from .malformed import plan as plan_malformed
from .probes import Prober
from .processes import COMMAND_SERVICES, KINDS, Supervisor, log_tail, service_specs
from .report import percentile, recovery, render, targets, write
from .settle import Settled, settle
from .stack import RestartablePostgres, Stack
from .topics import TopicTap
from .traffic import TrafficSender, patient_producer, scenario


class StartupError(RuntimeError):
    """The system did not come up; the message says what was not ready."""


async def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f}s")
        await asyncio.sleep(0.1)


async def wait_ready(supervisor: Supervisor, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while True:
            state = await supervisor.readiness(http)
            if all(s["ready"] for s in state.values()):
                return state
            if time.monotonic() > deadline:
                missing = {n: s for n, s in state.items() if not s["ready"]}
                tails = {n: log_tail(supervisor.procs[n].log_path, 8) for n in missing}
                raise StartupError(f"not ready after {timeout_s:.0f}s: {missing}; logs: {tails}")
            await asyncio.sleep(0.5)


def stop_stale_servers(workdir: Path) -> int:
    """Stop the PostgreSQL servers killed runs left in ``workdir``."""
    stopped = 0
    for data in workdir.glob("run-*/pgdata"):
        if RestartablePostgres.stop_stale(data):
            stopped += 1
    return stopped


def code_state() -> dict[str, Any]:
    """The commit the services ran from, and which of their files were changed."""
    root = Path(__file__).resolve().parents[4]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "servicekit", "services", "contracts"], capture_output=True,
                               text=True, timeout=10, check=False).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_head": head, "uncommitted_service_files": dirty}


class ChaosRun:
    def __init__(self, config: RunConfig, console: Console) -> None:
        self.config = config
        self.console = console
        self.started_mono = time.monotonic()
        self.started_at = wall_time()
        workdir = config.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        self.stale_stopped = stop_stale_servers(workdir)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.run_dir = workdir / f"run-{config.seed}-{stamp}-{os.getpid()}"
        self.logs = self.run_dir / "logs"
        self.logs.mkdir(parents=True)
        self.journal = Journal(self.run_dir / "faults.jsonl", console)
        self.stack = Stack(self.run_dir)
        self.supervisor: Supervisor | None = None
        self.tap: TopicTap | None = None
        self.prober: Prober | None = None
        self.traffic: TrafficSender | None = None
        self.injector: Injector | None = None
        self.phase = "starting"
        self.background: list[asyncio.Task[None]] = []
        self.stop_background = asyncio.Event()
        self.closers: list[Callable[[], Any]] = []

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        report: dict[str, Any] = {
            "seed": cfg.seed, "started_at": self.started_at, "run_dir": str(self.run_dir),
            "config": cfg.as_dict(), "code": code_state(), "cpus": os.cpu_count(),
            "interrupted": False, "harness_error": None}
        live: Live | None = None
        try:
            if cfg.progress and self.console.is_terminal:
                live = Live(get_renderable=self._progress, console=self.console,
                            refresh_per_second=2, transient=True)
                live.start()
            await self._execute(report)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            report["interrupted"] = True
            self.journal.event("interrupted", "interrupted: stopping everything", style="bold red")
        except Exception as exc:  # the report says what went wrong with the harness
            report["harness_error"] = "".join(traceback.format_exception(exc))[-6000:]
            self.journal.event("harness_error", f"harness error: {type(exc).__name__}: {exc}",
                               style="bold red", error=repr(exc))
        finally:
            if live is not None:
                live.stop()
            await self._shutdown()
        return self._finish(report)

    async def _execute(self, report: dict[str, Any]) -> None:
        cfg, journal = self.config, self.journal
        patience = cfg.broker_pause_s + 120.0

        self.phase = "starting the stack"
        journal.event("stack_starting", f"run directory {self.run_dir}", style="bold")
        self.stack.start()  # in the main thread: the broker dies with this process
        bootstrap = self.stack.broker.bootstrap
        journal.event("stack_started", f"PostgreSQL {self.stack.postgres.data_dir} · broker "
                      f"{bootstrap} · roles {', '.join(sorted(self.stack.roles))}",
                      bootstrap=bootstrap)
        await asyncio.wait_for(self.stack.create_topics(cfg.partitions), 60)

        self.phase = "starting the services"
        specs = service_specs(bootstrap, self.stack.roles, session_timeout_ms=cfg.session_timeout_ms,
                              partitions=cfg.partitions)
        sup = self.supervisor = Supervisor(specs, self.logs, journal)
        for spec in specs:
            sup.start(spec.name)
        self.background.append(asyncio.create_task(sup.watch(self.stop_background)))
        await wait_ready(sup, cfg.startup_timeout_s)
        journal.event("services_ready", "every service ready: " + ", ".join(
            f"{s.name}" + (f":{s.http_port}" if s.http_port else "") for s in specs), style="green")

        tap = self.tap = await TopicTap(bootstrap).start()
        producer = patient_producer(bootstrap, patience)
        await asyncio.wait_for(producer.start(), 60)
        self.closers.append(lambda: producer.stop())
        prober = self.prober = Prober(cfg.seed, producer, tap.state, self.stack.admin_dsn, journal,
                                      cfg.probe_deadline_s)
        self.background.append(asyncio.create_task(prober.watch(self.stop_background)))
        prober.launch(COMMAND_SERVICES, "baseline", "baseline")
        await wait_until(lambda: not prober.pending(), cfg.probe_deadline_s + 5, "baseline probes")
        journal.event("baseline", "baseline probes through: " + ", ".join(
            f"{p.service} {p.recovery_s:.2f}s" if p.recovery_s is not None else f"{p.service} stalled"
            for p in prober.probes), style="green")

        self.phase = "fault window"
        commands = scenario(cfg.seed, cfg.days, cfg.customers)
        traffic = self.traffic = TrafficSender(bootstrap, commands, cfg.duration_s, patience, journal,
                                               self.run_dir / "commands.jsonl")
        by_kind = {k: sup.names(k) for k in KINDS}
        plan = plan_faults(cfg.seed, cfg.duration_s, cfg.kills, cfg.pg_restarts, cfg.broker_pause_s,
                           by_kind, cfg.max_restart_delay_s)
        malformed = plan_malformed(cfg.seed, cfg.malformed)
        injector = self.injector = Injector(
            cfg.seed, plan, malformed, cfg.duration_s, sup, self.stack.postgres, self.stack.broker,
            prober, journal, patience, self.run_dir / "malformed.jsonl")
        journal.event("window_start", f"fault window of {cfg.duration_s:.0f}s: {len(commands):,} "
                      f"commands, {cfg.kills} kills, {cfg.pg_restarts} PostgreSQL restarts, "
                      f"broker pause {cfg.broker_pause_s:.0f}s, {len(malformed):,} malformed records",
                      style="bold", plan=[dataclasses.asdict(f) for f in plan])
        traffic_task = asyncio.create_task(traffic.run(lambda: False))
        self.background.append(traffic_task)
        await asyncio.wait_for(injector.run(bootstrap), cfg.duration_s + patience + 300)
        journal.event("window_over", f"fault window over: {dict(injector.done)}", style="bold",
                      done=dict(injector.done), skipped=injector.skipped)
        await asyncio.wait_for(asyncio.shield(traffic_task), patience + 120)
        journal.event("traffic_done", f"traffic sent: {len(traffic.sent):,}/{traffic.total:,} "
                      f"commands ({traffic.failures} sends failed and were retried)")

        self.phase = "settling"
        settled = await settle(sup, tap, prober, self.stack.admin_dsn, bootstrap, journal,
                               cfg.settle_timeout_s)

        self.phase = "checking"
        journal.event("final_read", "reading every topic again from the beginning")
        final = TopicTap(bootstrap)
        try:
            await final.start()
            await final.read_to_end(300)
        finally:
            await final.stop()
        snap = await readmodel.snapshot(self.stack.admin_dsn)
        report["checks"] = await self._checks(report, commands, final, snap, settled)

    async def _checks(self, report: dict[str, Any], commands: list[SimCommand], final: TopicTap,
                      snap: readmodel.DatabaseSnapshot, settled: Settled) -> list[dict[str, Any]]:
        cfg, journal = self.config, self.journal
        assert self.traffic is not None and self.prober is not None and self.injector is not None
        assert self.supervisor is not None
        sent, probes, injector = self.traffic.sent, self.prober.probes, self.injector
        totals = chk.Totals()
        windows = chk.FaultWindows(journal, injector.windows)
        valid = chk.valid_ids_of(sent, [p for p in probes if p.sent_mono is not None])
        state = final.state
        found: list[chk.Check] = [
            chk.check_results(sent, probes, state, windows, totals),
            chk.check_malformed(injector.malformed_sent, state, snap.seen, windows, totals),
            chk.check_no_events_from_malformed(valid, injector.malformed_sent, snap, state, totals),
            chk.check_read_model(snap, state, totals),
            chk.check_unexpected(valid, injector.malformed_sent, state, totals),
            *chk.check_at_rest(settled),
            chk.check_stalls(probes, settled, totals),
        ]
        # the simulator's own reading of section 5, over every valid command that went out
        sent_commands = [c for c in commands if c.command_id in sent]
        sent_commands += [p.command for p in probes if p.sent_mono is not None]
        sent_commands.sort(key=lambda c: (c.at_ms, c.seq))
        want = readmodel.expected_figures(measure(sent_commands))
        got = await readmodel.view_figures(self.stack.admin_dsn)
        diff = readmodel.compare_figures(got, want)
        found.append(chk.Check(
            "read_model_equals_simulator",
            "the views' section-5 totals equal leancrm_simulator.figures.measure over every valid "
            "command sent (the scenario's and the probes')",
            not diff, f"{len(want)} figures compared, {len(diff)} differ",
            {"figures": len(want), "different": len(diff)},
            [{"problem": "figure_differs", "figure": k, **v} for k, v in diff.items()]))
        # a fresh rebuild from the topics must give the same read model, row for row
        self.phase = "rebuilding the read model"
        journal.event("rebuild", "rebuilding the read model from the topics to compare")
        views_before = await readmodel.views_content(self.stack.admin_dsn)
        tables_before = await readmodel.store_tables(self.stack.admin_dsn, snap.active_store)
        outcome = await readmodel.rebuild(
            readmodel.waste_env(self.stack.roles, self.stack.broker.bootstrap, cfg.session_timeout_ms),
            self.stack.admin_dsn, self.logs / "rebuild.log", cfg.rebuild_timeout_s)
        if outcome.ok and outcome.new_store:
            views_after = await readmodel.views_content(self.stack.admin_dsn)
            tables_after = await readmodel.store_tables(self.stack.admin_dsn, outcome.new_store)
            table_diff = readmodel.differences(tables_before, tables_after)
            view_diff = readmodel.differences(views_before, views_after)
            rows = sum(sum(c.values()) for c in tables_before.values())
            found.append(chk.Check(
                "read_model_equals_rebuild",
                "the live read model equals a fresh rebuild from the topics: every content table "
                "of the store and every public view, row for row",
                not table_diff and not view_diff,
                f"rebuilt in {outcome.took_s:.0f}s ({outcome.old_store} → {outcome.new_store}): "
                f"{rows:,} store rows compared, {len(table_diff)} tables and {len(view_diff)} "
                "views differ",
                {"store_rows": rows, "tables_different": len(table_diff),
                 "views_different": len(view_diff)},
                [{"problem": "table_differs", "table": k, **v} for k, v in table_diff.items()]
                + [{"problem": "view_differs", "view": k, **v} for k, v in view_diff.items()]))
        else:
            found.append(chk.Check(
                "read_model_equals_rebuild",
                "the live read model equals a fresh rebuild from the topics, row for row",
                False, f"the rebuild failed after {outcome.took_s:.0f}s",
                {}, [{"problem": "rebuild_failed", "output": outcome.output[-2500:]}]))
        journal.event("checked", "checks done: " + ", ".join(
            f"{c.name} {'ok' if c.ok else 'FAILED'}" for c in found))
        summaries = {name: scan_log(p.log_path, name) for name, p in self.supervisor.procs.items()}
        log_paths = {name: p.log_path for name, p in self.supervisor.procs.items()}
        log_paths["rebuild"] = self.logs / "rebuild.log"
        await asyncio.to_thread(_add_log_lines, found, log_paths)
        report["logs"] = [s.as_dict() for s in summaries.values()]
        report["totals"] = vars(totals)
        report["targets"] = targets(totals, found)
        return [_with_logs(c, summaries).as_dict() if not c.ok else c.as_dict() for c in found]

    # -- progress, shutdown, report --------------------------------------------------------

    def _progress(self) -> Group:
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        elapsed = time.monotonic() - self.started_mono
        t.add_row("phase", f"{self.phase} · {elapsed:.0f}s")
        if self.traffic is not None:
            got = 0
            if self.tap is not None:
                got = sum(1 for c in self.traffic.sent if c in self.tap.state.results)
            t.add_row("commands", f"{len(self.traffic.sent):,}/{self.traffic.total:,} sent · "
                      f"{got:,} answered")
        if self.injector is not None:
            inj = self.injector
            t.add_row("faults", f"kills {inj.done[KILL]}/{self.config.kills} · PostgreSQL restarts "
                      f"{inj.done[PG_RESTART]}/{self.config.pg_restarts} · broker pauses "
                      f"{inj.done[BROKER_PAUSE]}{' (PAUSED)' if inj.paused else ''} · malformed "
                      f"{len(inj.malformed_sent):,}/{len(inj.malformed):,}")
        if self.prober is not None:
            probes = self.prober.probes
            times = [p.recovery_s for p in probes if p.recovery_s is not None]
            p99 = percentile(times, 99)
            t.add_row("probes", f"{len(probes)} sent · {len(times)} through · "
                      f"{len(self.prober.pending())} on their way · "
                      f"{sum(p.stalled for p in probes)} stalled"
                      + (f" · p99 {p99:.1f}s" if p99 is not None else ""))
        if self.supervisor is not None:
            sup = self.supervisor
            down = [n for n in sup.procs if not sup.running(n)]
            t.add_row("processes", f"{len(sup.procs) - len(down)}/{len(sup.procs)} running"
                      + (f" (down: {', '.join(down)})" if down else "")
                      + (f" · {len(sup.unexpected_exits)} exited by themselves"
                         if sup.unexpected_exits else ""))
        return Group(t)

    async def _shutdown(self) -> None:
        self.phase = "stopping"
        self.stop_background.set()
        for task in self.background:
            task.cancel()
        for task in self.background:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 10)
        if self.tap is not None:
            with contextlib.suppress(BaseException):
                await self.tap.stop()
        if self.prober is not None:
            with contextlib.suppress(BaseException):
                await self.prober.close()
        for close in self.closers:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(close(), 15)
        if self.supervisor is not None:
            self.supervisor.stop_all()
        self.stack.stop()
        self.journal.event("stopped", "every process the run started is stopped")

    def _finish(self, report: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        report["finished_at"] = wall_time()
        # the services run from the working tree: a process started again after a kill runs
        # whatever the files say by then
        report["code_at_end"] = code_state()
        report["wall_s"] = round(time.monotonic() - self.started_mono, 1)
        inj, sup = self.injector, self.supervisor
        injected = {k: (inj.done[k] if inj else 0) for k in FAULT_KINDS}
        report["faults"] = {
            "injected": injected,
            "planned": {KILL: cfg.kills, PG_RESTART: cfg.pg_restarts,
                        BROKER_PAUSE: 1 if cfg.broker_pause_s > 0 else 0, MALFORMED: cfg.malformed},
            "kills_by_process": dict(inj.kills_by_process) if inj else {},
            "kills_by_kind": kills_by_kind(inj, sup),
            "malformed_by_kind": dict(Counter(m.spec.kind for m in inj.malformed_sent)) if inj else {},
            "skipped": inj.skipped if inj else [],
            "unexpected_exits": sup.unexpected_exits if sup else [],
            "windows": inj.windows if inj else [],
        }
        report["traffic"] = {} if self.traffic is None else {
            "commands": self.traffic.total, "sent": len(self.traffic.sent),
            "sends_retried": self.traffic.failures,
            "by_topic": dict(Counter(r.topic for r in self.traffic.sent.values()))}
        report["recovery"] = recovery(self.prober.probes if self.prober else [],
                                      inj.windows if inj else [])
        report.setdefault("checks", [])
        report.setdefault("totals", None)
        if "targets" not in report:
            report["targets"] = targets(chk.Totals(lost=-1, duplicated=-1, stalls=-1,
                                                   wrong_verdicts=-1, phantom_events=-1), [])
        short = [k for k, v in injected.items() if v < report["faults"]["planned"][k]]
        report["faults"]["fewer_than_planned"] = short
        report["ok"] = (not report["interrupted"] and report["harness_error"] is None
                        and all(t["ok"] for t in report["targets"].values())
                        and all(c["ok"] for c in report["checks"]) and not short)
        if report["ok"] and not cfg.keep_data:
            shutil.rmtree(self.stack.postgres.data_dir, ignore_errors=True)
            report["pgdata"] = "removed (every target met)"
        else:
            report["pgdata"] = str(self.stack.postgres.data_dir)
        if cfg.report is not None:
            report["report_path"] = str(cfg.report)
            write(cfg.report, report)
        self.journal.close()
        return report


def _add_log_lines(found: list[chk.Check], paths: dict[str, Path]) -> None:
    """Each piece of evidence naming a command, a hostile record or an event gets the log
    lines that name it too."""
    keys = ("marker", "command_id", "event_id")
    needles = {str(e[k]) for c in found if not c.ok for e in c.evidence for k in keys
               if e.get(k)}
    lines = find_lines(paths, needles)
    for c in found:
        for e in c.evidence:
            named = [line for k in keys if e.get(k) for line in lines.get(str(e[k]), [])]
            if named:
                e["log_lines"] = named[:4]


def kills_by_kind(inj: Injector | None, sup: Supervisor | None) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    if inj is not None and sup is not None:
        for name, n in inj.kills_by_process.items():
            kinds[sup.procs[name].spec.kind] += n
    return dict(kinds)


def _with_logs(check: chk.Check, summaries: dict[str, LogSummary]) -> chk.Check:
    """A failed check with the error lines of the processes its evidence names."""
    services: set[str] = set()
    for e in check.evidence:
        for key in ("topic", "service", "where", "process", "line", "instance"):
            value = str(e.get(key, ""))
            for name in COMMAND_SERVICES:
                if name in value:
                    services.add(name)
            if "waste" in value or "projector" in value or ".events." in value:
                services.add("waste")
    if check.name in ("events_exactly_once_in_read_model", "read_model_equals_rebuild",
                      "read_model_equals_simulator", "no_events_from_malformed"):
        services.add("waste")
    excerpts = []
    for name, s in summaries.items():
        if not any(name.startswith(svc) for svc in services):
            continue
        for (level, event), n in s.counts.most_common():
            if level in ("error", "critical"):
                excerpts.append({"process": name, "level": level, "event": event, "count": n,
                                 "samples": s.samples.get((level, event), [])})
        for exception, n in s.tracebacks.most_common(2):
            excerpts.append({"process": name, "traceback": exception, "count": n,
                             "sample": s.traceback_samples[exception][-700:]})
    excerpts.sort(key=lambda e: "traceback" in e)  # the services' own error events first
    check.evidence.append({"problem": "log_excerpts", "excerpts": excerpts[:24]})
    return check


async def run_chaos(config: RunConfig, console: Console | None = None) -> dict[str, Any]:
    """Run one chaos run (see the module's docstring); its report (``report["ok"]``)."""
    config.validate()
    runner = ChaosRun(config, console or Console())
    report = await runner.run()
    render(runner.console, report)
    return report
