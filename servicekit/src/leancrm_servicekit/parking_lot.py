"""The parking lot people work: dead letters and parked messages, listed, shown and
replayed once their cause is fixed.

``python -m leancrm_<service> dlq list|show|replay`` reads ``crm.dlq.v1`` (the letters
this service wrote: header ``dlq_consumer``), streaming it from the beginning with no
consumer group, so nothing is loaded whole into memory; ``replay`` sends the chosen
letters' original bytes, key and headers back to their source topic in bounded
batches, each acknowledged by the broker before the next, and records every replay
and every letter it sent (``replays``, ``replayed_dead_letters``): running it again
skips what was sent unless ``--again``. A letter whose value was cut to the DLQ's size
bound (``dlq_truncated``) cannot be replayed and is counted as skipped.

``python -m leancrm_<service> parked list|show|replay`` works the messages the broker
refused for good (:mod:`leancrm_servicekit.outbox`): ``replay`` moves them back into
the outbox in id order, in batches, for the relay to publish again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from leancrm_contracts.envelope import (
    DLQ_AT,
    DLQ_CONSUMER,
    DLQ_ERROR_CODE,
    DLQ_REASON,
    DLQ_SOURCE_TOPIC,
    DLQ_TRUNCATED,
)
from leancrm_contracts.topics import DLQ
from leancrm_servicekit import kafka
from leancrm_servicekit.db import Timeouts, create_pool
from leancrm_servicekit.environment import check_environment
from leancrm_servicekit.kafka import make_producer, stop_quietly
from leancrm_servicekit.outbox import Outbox
from leancrm_servicekit.replays import ReplayLog
from leancrm_servicekit.runtime import run_configured
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings, load_settings, require

console = Console()
#: header a replayed record carries: where on the DLQ it came from
REPLAY_OF = "replay_of"


@dataclass(frozen=True, slots=True)
class Letter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        for k, v in self.headers:
            if k == name:
                return v.decode(errors="replace")
        return ""

    @property
    def at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.header(DLQ_AT))
        except ValueError:
            return None

    @property
    def replayable(self) -> bool:
        return self.header(DLQ_TRUNCATED) != "true"

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith("dlq_") and k != REPLAY_OF]


@dataclass(frozen=True)
class Selection:
    """Which dead letters of a consumer: all filters must hold."""

    consumer: str
    error_code: str | None = None
    source_topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    partition: int | None = None
    from_offset: int | None = None
    to_offset: int | None = None

    def holds(self, letter: Letter) -> bool:
        if letter.header(DLQ_CONSUMER) != self.consumer:
            return False
        if self.error_code and letter.header(DLQ_ERROR_CODE) != self.error_code:
            return False
        if self.source_topic and letter.header(DLQ_SOURCE_TOPIC) != self.source_topic:
            return False
        if self.partition is not None and letter.partition != self.partition:
            return False
        if self.from_offset is not None and letter.offset < self.from_offset:
            return False
        if self.to_offset is not None and letter.offset > self.to_offset:
            return False
        at = letter.at
        if self.since and (at is None or at < self.since):
            return False
        return not (self.until and (at is None or at >= self.until))

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


async def scan_dlq(bootstrap: str, *, idle_timeout_s: float = 5.0,
                   client_options: dict[str, Any] | None = None) -> AsyncIterator[Letter]:
    """Every record of the DLQ from the beginning to its end as the scan started (the
    fetch high watermark), one at a time: no consumer group, nothing committed."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None, auto_offset_reset="earliest",
                                **(client_options or {}))
    await consumer.start()
    try:
        topics = await consumer.topics()
        if DLQ not in topics:
            return
        parts = [TopicPartition(DLQ, p) for p in sorted(consumer.partitions_for_topic(DLQ) or ())]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        idle_since = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for tp, records in batch.items():
                for r in records:
                    yield Letter(tp.partition, r.offset, r.key, r.value or b"", tuple(r.headers or ()))
            if batch:
                idle_since = time.monotonic()
            done = True
            for tp in parts:
                high = consumer.highwater(tp)
                if high is None or await consumer.position(tp) < high:
                    done = False
            if done or time.monotonic() - idle_since > idle_timeout_s:
                return
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 10)


@dataclass
class Group:
    letters: int = 0
    replayable: int = 0
    first: datetime | None = None
    last: datetime | None = None
    first_position: str = ""
    reasons: dict[str, int] = field(default_factory=dict)


async def summarise(bootstrap: str, selection: Selection,
                    client_options: dict[str, Any] | None = None) -> dict[tuple[str, str], Group]:
    """Dead letters by (error code, source topic): how many, when, a few reasons."""
    groups: dict[tuple[str, str], Group] = {}
    async for letter in scan_dlq(bootstrap, client_options=client_options):
        if not selection.holds(letter):
            continue
        g = groups.setdefault((letter.header(DLQ_ERROR_CODE), letter.header(DLQ_SOURCE_TOPIC)), Group())
        g.letters += 1
        g.replayable += letter.replayable
        at = letter.at
        if at is not None:
            g.first = at if g.first is None or at < g.first else g.first
            g.last = at if g.last is None or at > g.last else g.last
        if not g.first_position:
            g.first_position = f"{letter.partition}:{letter.offset}"
        reason = letter.header(DLQ_REASON)[:80]
        if reason in g.reasons or len(g.reasons) < 3:
            g.reasons[reason] = g.reasons.get(reason, 0) + 1
    return groups


@dataclass
class ReplayReport:
    replay_id: int
    sent: int = 0
    skipped_truncated: int = 0
    skipped_replayed: int = 0
    skipped_topic: int = 0


async def replay_dead_letters(settings: ServiceSettings, schema: str, selection: Selection,
                              allowed_topics: Sequence[str], *, batch: int = 500, again: bool = False,
                              limit: int | None = None,
                              progress: Callable[[ReplayReport], None] | None = None) -> ReplayReport:
    """Send the chosen letters back to their source topics, ``batch`` at a time; each batch
    is acknowledged by the broker (acks=all) and then recorded, so a replay stopped half
    way leaves a record of what it sent and goes on from there when run again."""
    bootstrap = require(settings.kafka_bootstrap, "LEANCRM_KAFKA_BOOTSTRAP")
    options = kafka.client_options(settings)
    producer = make_producer(bootstrap, **options)  # made first: it connects only when started
    try:
        pool = await create_pool(require(settings.database_url, "LEANCRM_DATABASE_URL"), schema, 2,
                                 Timeouts.of(settings))
    except BaseException:
        await stop_quietly(producer)
        raise
    log = ReplayLog(pool)
    try:
        report = ReplayReport(await log.start("dead_letters", {**selection.as_json(), "again": again}))
        await producer.start()
    except BaseException:
        await stop_quietly(producer)
        await pool.close()
        raise
    pending: list[Letter] = []

    async def flush() -> None:
        if not pending:
            return
        done = set() if again else await log.replayed((x.partition, x.offset) for x in pending)
        todo = [x for x in pending if (x.partition, x.offset) not in done]
        report.skipped_replayed += len(pending) - len(todo)
        futures = [await producer.send(x.header(DLQ_SOURCE_TOPIC), value=x.value, key=x.key,
                                       headers=[*x.original_headers(),
                                                (REPLAY_OF, f"{DLQ}:{x.partition}:{x.offset}".encode())])
                   for x in todo]
        await asyncio.gather(*futures)
        await log.mark_replayed(report.replay_id, [(x.partition, x.offset) for x in todo])
        report.sent += len(todo)
        pending.clear()
        if progress is not None:
            progress(report)

    try:
        async for letter in scan_dlq(bootstrap, client_options=options):
            if not selection.holds(letter):
                continue
            if not letter.replayable:
                report.skipped_truncated += 1
                continue
            if letter.header(DLQ_SOURCE_TOPIC) not in allowed_topics:
                report.skipped_topic += 1
                continue
            pending.append(letter)
            if len(pending) >= batch:
                await flush()
            if limit is not None and report.sent + len(pending) >= limit:
                break
        await flush()
    finally:
        await stop_quietly(producer)
        with contextlib.suppress(Exception):
            await log.finish(report.replay_id, report.skipped_truncated + report.skipped_replayed
                             + report.skipped_topic)
        await pool.close()
    return report


# -- the command line ---------------------------------------------------------------------


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{option}: not an ISO 8601 time, e.g. 2026-12-01T09:00:00Z") from None
    if value.tzinfo is None:
        raise typer.BadParameter(f"{option}: give an offset, e.g. 2026-12-01T09:00:00Z")
    return value


ErrorCodeOpt = Annotated[str | None, typer.Option("--error-code", help="Only this dlq_error_code")]
SourceOpt = Annotated[str | None, typer.Option("--source-topic", help="Only letters from this topic")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Dead-lettered at or after (ISO 8601)")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Dead-lettered before (ISO 8601)")]
PartitionOpt = Annotated[int | None, typer.Option("--partition", min=0, help="Only this DLQ partition")]
FromOpt = Annotated[int | None, typer.Option("--from-offset", min=0, help="From this DLQ offset")]
ToOpt = Annotated[int | None, typer.Option("--to-offset", min=0, help="Up to this DLQ offset")]


def operations_app(service: str, consumed_topics: Sequence[str], default_schema: str,
                   settings_type: type[ServiceSettings] = ServiceSettings) -> tuple[typer.Typer, typer.Typer]:
    """The ``dlq`` and ``parked`` command groups of a service's CLI."""
    dlq = typer.Typer(add_completion=False, no_args_is_help=True,
                      help=f"Dead letters {service} wrote to {DLQ}: list, show, replay.")
    parked = typer.Typer(add_completion=False, no_args_is_help=True,
                         help="Messages the broker refused for good: list, show, replay.")

    def settings() -> tuple[ServiceSettings, str]:
        try:
            s = load_settings(settings_type)
            check_environment(s)
            kafka.client_options(s)  # a certificate that does not load is said before any work
        except ConfigurationError as exc:
            raise SystemExit(f"error: {exc}") from None
        return s, s.db_schema or default_schema

    def selection(error_code: str | None, source_topic: str | None, since: str | None,
                  until: str | None, partition: int | None, from_offset: int | None,
                  to_offset: int | None) -> Selection:
        return Selection(service, error_code, source_topic, _when(since, "--since"),
                         _when(until, "--until"), partition, from_offset, to_offset)

    @dlq.command("list")
    def dlq_list(error_code: ErrorCodeOpt = None, source_topic: SourceOpt = None, since: SinceOpt = None,
                 until: UntilOpt = None, partition: PartitionOpt = None, from_offset: FromOpt = None,
                 to_offset: ToOpt = None) -> None:
        """Dead letters by error code and source topic: how many, when, a few reasons."""
        s, _ = settings()
        sel = selection(error_code, source_topic, since, until, partition, from_offset, to_offset)
        with console.status(f"reading {DLQ}"):
            groups = run_configured(summarise(require(s.kafka_bootstrap, "LEANCRM_KAFKA_BOOTSTRAP"), sel,
                                           kafka.client_options(s)))
        table = Table(title=f"dead letters of {service}")
        for col in ("error code", "source topic", "letters", "replayable", "first", "last",
                    "first at (partition:offset)", "reasons"):
            table.add_column(col)
        for (code, topic), g in sorted(groups.items()):
            table.add_row(code, topic, f"{g.letters:,}", f"{g.replayable:,}",
                          g.first.isoformat() if g.first else "", g.last.isoformat() if g.last else "",
                          g.first_position, "\n".join(f"{n}× {r}" for r, n in g.reasons.items()))
        console.print(table if groups else "no dead letters match")

    @dlq.command("show")
    def dlq_show(partition: Annotated[int, typer.Argument(min=0)],
                 offset: Annotated[int, typer.Argument(min=0)],
                 raw: Annotated[bool, typer.Option(help="Print the value's bytes as they are")] = False,
                 ) -> None:
        """One dead letter, by its DLQ partition and offset."""
        s, _ = settings()

        async def find() -> Letter | None:
            async for letter in scan_dlq(require(s.kafka_bootstrap, "LEANCRM_KAFKA_BOOTSTRAP"),
                                         client_options=kafka.client_options(s)):
                if (letter.partition, letter.offset) == (partition, offset):
                    return letter
            return None

        letter = run_configured(find())
        if letter is None:
            raise typer.BadParameter(f"no dead letter at {partition}:{offset} on {DLQ}")
        for k, v in letter.headers:
            console.print(f"[bold]{k}[/]: {v.decode(errors='replace')}", markup=True, highlight=False)
        console.print(f"[bold]key[/]: {letter.key!r}")
        if raw:
            typer.echo(letter.value)
        else:
            console.print(f"[bold]value[/] ({len(letter.value):,} bytes): {letter.value[:4000]!r}",
                          highlight=False)

    @dlq.command("replay")
    def dlq_replay(error_code: ErrorCodeOpt = None, source_topic: SourceOpt = None, since: SinceOpt = None,
                   until: UntilOpt = None, partition: PartitionOpt = None, from_offset: FromOpt = None,
                   to_offset: ToOpt = None,
                   batch: Annotated[int, typer.Option(min=1, max=10_000, help="Letters per batch")] = 500,
                   limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many")] = None,
                   again: Annotated[bool, typer.Option(
                       help="Also send letters a replay sent before")] = False,
                   ) -> None:
        """Send the chosen dead letters back to their source topic (once their cause is fixed)."""
        s, schema = settings()
        sel = selection(error_code, source_topic, since, until, partition, from_offset, to_offset)
        with console.status("replaying") as status:
            report = run_configured(replay_dead_letters(
                s, schema, sel, consumed_topics, batch=batch, again=again, limit=limit,
                progress=lambda r: status.update(f"replaying: {r.sent:,} sent")))
        console.print(f"replay {report.replay_id}: sent {report.sent:,}; skipped "
                      f"{report.skipped_replayed:,} sent before (--again sends them), "
                      f"{report.skipped_truncated:,} truncated (not replayable), "
                      f"{report.skipped_topic:,} from topics {service} does not read")

    async def with_outbox(job: Callable[[Outbox, ReplayLog], Any]) -> Any:
        s, schema = settings()
        pool = await create_pool(require(s.database_url, "LEANCRM_DATABASE_URL"), schema, 2,
                                 Timeouts.of(s))
        try:
            return await job(Outbox(pool, schema), ReplayLog(pool))
        finally:
            await pool.close()

    @parked.command("list")
    def parked_list() -> None:
        """Parked messages by reason and topic."""
        rows = run_configured(with_outbox(lambda o, _: o.parked_summary()))
        table = Table(title=f"parked messages of {service}")
        for col in ("reason", "topic", "messages", "first parked", "last parked", "ids"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["reason"], r["topic"], f"{r['messages']:,}", r["first"].isoformat(),
                          r["last"].isoformat(), f"{r['first_id']}–{r['last_id']}")
        console.print(table if rows else "nothing is parked")

    @parked.command("show")
    def parked_show(message_id: Annotated[int, typer.Argument(min=1, help="The parked message's id")],
                    ) -> None:
        """One parked message."""
        found = run_configured(with_outbox(lambda o, _: o.parked_page(message_id - 1, through_id=message_id,
                                                                   limit=1)))
        if not found:
            raise typer.BadParameter(f"no parked message {message_id}")
        p = found[0]
        console.print(f"[bold]id[/] {p.id} (outbox {p.outbox_id}) · [bold]reason[/] {p.reason} · "
                      f"parked {p.parked_at.isoformat()}\n[bold]error[/] {p.error}\n[bold]topic[/] "
                      f"{p.message.topic} · [bold]key[/] {p.message.key!r}\n[bold]headers[/] "
                      f"{list(p.message.headers)}\n[bold]value[/] ({len(p.message.value or b''):,} bytes) "
                      f"{(p.message.value or b'')[:2000]!r}", highlight=False)

    @parked.command("replay")
    def parked_replay(reason: Annotated[str | None, typer.Option(help="Only this reason")] = None,
                      from_id: Annotated[int, typer.Option(min=1, help="From this id")] = 1,
                      to_id: Annotated[int | None, typer.Option(min=1, help="Up to this id")] = None,
                      batch: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
        """Move the chosen parked messages back into the outbox, in order, for the relay."""
        async def job(outbox: Outbox, log: ReplayLog) -> tuple[int, int]:
            replay_id = await log.start("parked", {"reason": reason, "from_id": from_id, "to_id": to_id})
            after, total = from_id - 1, 0
            while True:
                after, moved = await outbox.unpark(replay_id, after, through_id=to_id, reason=reason,
                                                   batch=batch)
                if not moved:
                    break
                total += moved
            await log.finish(replay_id, 0)
            return replay_id, total

        replay_id, total = run_configured(with_outbox(job))
        console.print(f"replay {replay_id}: moved {total:,} parked message(s) back to the outbox")

    return dlq, parked
