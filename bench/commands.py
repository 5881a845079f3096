"""Command throughput and latency through a command service, beside two baselines.

    scripts/bench commands [--commands 20000] [--rate 500] [--seconds 10]

Measures, in one run on one PostgreSQL:
- the service end to end (command topic → event store → outbox → event topic) with
  1 and 4 concurrent producers: commands/s from the first produce to the last event
  consumed;
- p50/p99 latency from produce to event consumed at a steady rate (default 500/s);
- baseline 1: raw asyncpg inserts of the same event rows (500 per transaction);
- baseline 2: the peer library eventsourcing (PostgreSQL persistence) saving the
  same aggregate events, one aggregate per save as an application would.
Results go to bench/results/commands.json; ratios are against the baselines of the
same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from common import Infra, Timer, infrastructure, machine, percentile, service_process, write_results

from leancrm_servicekit.kafka import ensure_topics


def _command(command_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"command_id": f"bench-{uuid.uuid4()}", "command_type": command_type,
            "occurred_at": datetime.now(UTC).isoformat(), "correlation_id": None, "data": data}


def register_command(cid: str) -> dict[str, Any]:
    return _command("register_customer", {"customer_id": cid, "name": "Bench Customer",
                                          "email": "bench@example.com", "phone": None,
                                          "segment": "retail"})


def start_command(cid: str) -> dict[str, Any]:
    return _command("start_interaction", {"interaction_id": str(uuid.uuid4()), "customer_id": cid,
                                          "channel": "phone", "reason": "billing",
                                          "direction": "inbound"})


def feedback_command(cid: str) -> dict[str, Any]:
    """One command, three events (received, sentiment_scored, routed)."""
    return _command("submit_feedback", {"feedback_id": str(uuid.uuid4()), "customer_id": cid,
                                        "source": "review", "text": "Great service, but the price "
                                        "of the upgrade is too high.", "rating": 7,
                                        "interaction_id": None, "topic": None})


#: service → (module, command topic, event topic, command for a fresh customer id, events per command)
SERVICES: dict[str, tuple[str, str, str, Callable[[str], dict[str, Any]], int]] = {
    "customers": ("leancrm_customers", "crm.customers.commands.v1", "crm.customers.events.v1",
                  register_command, 1),
    "interactions": ("leancrm_interactions", "crm.interactions.commands.v1",
                     "crm.interactions.events.v1", start_command, 1),
    "feedback": ("leancrm_feedback", "crm.feedback.commands.v1", "crm.feedback.events.v1",
                 feedback_command, 3),
}
MAKE: Callable[[str], dict[str, Any]] = register_command


class EventClock:
    """Reads the event topic from the start; records when each customer_id arrived."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.arrived: dict[str, float] = {}
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                         fetch_max_wait_ms=50, max_poll_records=5000)

    async def start(self) -> None:
        await self.consumer.start()
        parts = self.consumer.partitions_for_topic(self.topic)
        while not parts:
            await self.consumer.topics()
            parts = self.consumer.partitions_for_topic(self.topic)
            await asyncio.sleep(0.1)
        tps = [TopicPartition(self.topic, p) for p in parts]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for recs in batch.values():
                for r in recs:
                    self.arrived.setdefault(json.loads(r.value)["customer_id"], now)

    async def wait_for(self, ids: list[str], timeout_s: float = 600) -> float:
        deadline = time.perf_counter() + timeout_s
        while True:
            if all(i in self.arrived for i in ids):
                return max(self.arrived[i] for i in ids)
            if time.perf_counter() > deadline:
                missing = sum(1 for i in ids if i not in self.arrived)
                raise TimeoutError(f"{missing} of {len(ids)} events did not arrive")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.task.cancel()
        await self.consumer.stop()


def _headers(command: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The headers every command carries (contract section 2); without them: invalid."""
    return [("content-type", b"application/json"), ("message_type", command["command_type"].encode())]


async def produce(producer: AIOKafkaProducer, topic: str, ids: list[str]) -> None:
    for cid in ids:
        command = MAKE(cid)
        await producer.send(topic, json.dumps(command).encode(), key=cid.encode(),
                            headers=_headers(command))
    await producer.flush()


async def service_throughput(infra: Infra, topic_in: str, clock: EventClock, n: int,
                             producers: int) -> float:
    ps = [AIOKafkaProducer(bootstrap_servers=infra.bootstrap, linger_ms=5, acks="all")
          for _ in range(producers)]
    for p in ps:
        await p.start()
    ids = [str(uuid.uuid4()) for _ in range(n)]
    chunks = [ids[i::producers] for i in range(producers)]
    start = time.perf_counter()
    await asyncio.gather(*(produce(p, topic_in, c) for p, c in zip(ps, chunks, strict=True)))
    end = await clock.wait_for(ids)
    for p in ps:
        await p.stop()
    return n / (end - start)


async def service_latency(infra: Infra, topic_in: str, clock: EventClock, rate: float,
                          seconds: float) -> dict[str, float]:
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap, linger_ms=1, acks="all")
    await producer.start()
    n = int(rate * seconds)
    ids = [str(uuid.uuid4()) for _ in range(n)]
    sent: dict[str, float] = {}
    t0 = time.perf_counter()
    for i, cid in enumerate(ids):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[cid] = time.perf_counter()
        command = MAKE(cid)
        await producer.send(topic_in, json.dumps(command).encode(), key=cid.encode(),
                            headers=_headers(command))
    await producer.flush()
    await clock.wait_for(ids)
    await producer.stop()
    lat = [(clock.arrived[c] - sent[c]) * 1000 for c in ids]
    return {"rate_per_s": rate, "commands": n, "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99), "max_ms": max(lat)}


async def baseline_asyncpg(dsn: str, n: int, batch: int = 500) -> float:
    schema = f"bench_raw_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.execute(f"""CREATE TABLE {schema}.events (
        global_position BIGINT PRIMARY KEY, event_id UUID NOT NULL UNIQUE, stream_id TEXT NOT NULL,
        stream_version INT NOT NULL, event_type TEXT NOT NULL, occurred_at TIMESTAMPTZ NOT NULL,
        data JSONB NOT NULL, UNIQUE (stream_id, stream_version))""")
    now = datetime.now(UTC)
    rows = [(i + 1, uuid.uuid4(), cid, json.dumps(register_command(cid)["data"]))
            for i, cid in enumerate(str(uuid.uuid4()) for _ in range(n))]
    with Timer() as t:
        for i in range(0, n, batch):
            chunk = rows[i:i + batch]
            async with conn.transaction():
                await conn.execute(
                    f"INSERT INTO {schema}.events SELECT p, e, s, 1, 'customer.registered', $5, d "
                    "FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::jsonb[]) AS u(p, e, s, d)",
                    [r[0] for r in chunk], [r[1] for r in chunk], [r[2] for r in chunk],
                    [r[3] for r in chunk], now)
    await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await conn.close()
    return n / t.seconds


def baseline_eventsourcing(dsn: str, n: int) -> float:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Customer(Aggregate):
        @event("Registered")
        def __init__(self, name: str, email: str | None, phone: str | None, segment: str) -> None:
            self.name, self.email, self.phone, self.segment = name, email, phone, segment

    url = urlparse(dsn)
    query = parse_qs(url.query)
    host = query.get("host", [url.hostname or "127.0.0.1"])[0]
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": (url.path or "/postgres").lstrip("/") or "postgres",
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_SCHEMA": "public",
        "CREATE_TABLE": "y",
    }

    class Customers(Application[Any]):
        name = f"BenchCustomers{uuid.uuid4().hex[:8]}"

    app = Customers(env=env)
    with Timer() as t:
        for _ in range(n):
            app.save(Customer(name="Bench Customer", email="bench@example.com", phone=None,
                              segment="retail"))
    app.close()
    return n / t.seconds


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "parameters": vars(args)}
    with infrastructure() as infra:
        results["infrastructure"] = infra.kind
        print(f"baseline: raw asyncpg inserts of {args.commands} event rows …", flush=True)
        raw = await baseline_asyncpg(infra.dsn, args.commands)
        es_n = min(args.commands, args.eventsourcing_events)
        print(f"baseline: eventsourcing saving {es_n} aggregate events …", flush=True)
        es = baseline_eventsourcing(infra.dsn, es_n)  # synchronous library; nothing else runs now
        results["baselines"] = {"asyncpg_rows_per_s": raw, "eventsourcing_events_per_s": es}
        global MAKE
        for service in args.services:
            module, topic_in, topic_out, MAKE, events_per_command = SERVICES[service]
            # topics exist before anything produces (an auto-created topic is not what
            # the services create, and the embedded broker mishandles it)
            await ensure_topics(infra.bootstrap, [topic_in, topic_out, "crm.command-results.v1",
                                                  "crm.dlq.v1"], 6, 1)
            schema = f"bench_{service}_{uuid.uuid4().hex[:6]}"
            log = Path(f"bench/results/{service}-service.log")
            with contextlib.ExitStack() as running:
                if args.separate_relay:  # the outbox relay in a process of its own
                    running.enter_context(service_process(module, infra, schema, log,
                                                          LEANCRM_RELAY_ENABLED="false"))
                    running.enter_context(service_process(
                        module, infra, schema, log.with_name(f"{service}-relay.log"), "relay"))
                else:
                    running.enter_context(service_process(module, infra, schema, log))
                warm = AIOKafkaProducer(bootstrap_servers=infra.bootstrap)
                await warm.start()
                warm_id = str(uuid.uuid4())
                await produce(warm, topic_in, [warm_id])
                await warm.stop()
                clock = EventClock(infra.bootstrap, topic_out)
                await clock.start()
                await clock.wait_for([warm_id], 120)
                out: dict[str, Any] = {}
                for producers in (1, 4):
                    print(f"{service}: {args.commands} commands, {producers} producer(s) …",
                          flush=True)
                    rate = await service_throughput(infra, topic_in, clock, args.commands, producers)
                    out[f"commands_per_s_{producers}_producers"] = rate
                    out[f"events_per_s_{producers}_producers"] = rate * events_per_command
                    out[f"ratio_vs_asyncpg_{producers}_producers"] = rate / raw
                    out[f"ratio_vs_eventsourcing_{producers}_producers"] = rate / es
                print(f"{service}: latency at {args.rate}/s for {args.seconds}s …", flush=True)
                out["latency"] = await service_latency(infra, topic_in, clock, args.rate, args.seconds)
                await clock.stop()
                results[service] = out
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=20000)
    parser.add_argument("--eventsourcing-events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--services", nargs="+", default=["customers"], choices=sorted(SERVICES))
    parser.add_argument("--separate-relay", action="store_true",
                        help="run each service's outbox relay as a process of its own")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    path = write_results("commands-separate-relay" if args.separate_relay else "commands", results)
    print(json.dumps(results, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
