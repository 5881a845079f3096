"""The waste projector under load, beside a plain aiokafka consumer in the same run.

    scripts/bench projector [--customers 5000 --days 28] [--rate 2000 --seconds 15]

(a) events/s the projector sustains applying a topic of ≥ 500,000 realistic events
    (the simulator's scenario decided by the real deciders), and the rate a plain
    aiokafka consumer reads the same topics (the median of three reads): the ratio;
(b) p50/p99 freshness — produce → visible in waste.interactions — at a steady rate;
(c) time to rebuild the read model from the beginning (python -m leancrm_waste rebuild);
(d) the projector process's peak RSS, sampled through the run, and RSS after each
    100k events (bounded memory: it must not grow with ended interactions);
(e) scale-out: --instances projector processes in one consumer group, from empty.
Results: bench/results/projector.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from common import Infra, infrastructure, machine, percentile, service_process, write_results

from leancrm_contracts.topics import EVENT_TOPICS
from leancrm_servicekit.kafka import ensure_topics
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.offline import EventMessage, offline_events, produce_events
from leancrm_simulator.scenario import generate

CACHE = Path(".leancrm/bench-cache")


def scenario(customers: int, days: int, seed: int) -> list[EventMessage]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"events-{customers}-{days}-{seed}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    print(f"generating events: {customers} customers × {days} days (cached in {path}) …", flush=True)
    knobs = Knobs(seed=seed, customers=customers, days=days,
                  agents_per_team=max(4, customers // 200))
    events = list(offline_events(generate(knobs)))
    path.write_bytes(pickle.dumps(events))
    return events


async def produce(bootstrap: str, events: list[EventMessage]) -> None:
    await produce_events(bootstrap, events, acks=1, linger_ms=20, max_batch_size=512 * 1024)


async def raw_consume_rate(bootstrap: str, n: int) -> float:
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                         max_poll_records=10000, fetch_max_bytes=50 * 1024 * 1024)
    await c.start()
    tps = [TopicPartition(t, p) for t in EVENT_TOPICS for p in (c.partitions_for_topic(t) or [])]
    c.assign(tps)
    await c.seek_to_beginning(*tps)
    got = 0
    start = time.perf_counter()
    while got < n:
        batch = await c.getmany(timeout_ms=500, max_records=10000)
        got += sum(len(v) for v in batch.values())
    rate = got / (time.perf_counter() - start)
    await c.stop()
    return rate


class Rss:
    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.samples: list[tuple[int, int]] = []  # (events applied, rss)

    def sample(self, applied: int) -> None:
        rss = self.proc.memory_info().rss
        self.peak = max(self.peak, rss)
        self.samples.append((applied, rss))


async def applied(conn: asyncpg.Connection, schema: str) -> int:
    store = await conn.fetchval(f"SELECT store FROM {schema}.active_store")
    return int(await conn.fetchval(f"SELECT count(*) FROM {store}.seen_events"))


async def wait_applied(conn: asyncpg.Connection, schema: str, n: int, rss: Rss,
                       timeout_s: float = 3600) -> tuple[float, int]:
    """Seconds from the first applied event (start-up and group join excluded) until
    n are applied, and how many were applied at that first sighting."""
    begun = time.perf_counter()
    first: tuple[float, int] | None = None
    while True:
        try:
            done = await applied(conn, schema)
        except asyncpg.PostgresError:
            done = 0
        now = time.perf_counter()
        rss.sample(done)
        if first is None and done > 0:
            first = (now, done)
        if done >= n and first is not None:
            return now - first[0], first[1]
        if now - begun > timeout_s:
            raise TimeoutError(f"only {done} of {n} applied")
        await asyncio.sleep(0.1)


async def freshness(infra: Infra, conn: asyncpg.Connection, events: list[EventMessage],
                    rate: float, seconds: float) -> dict[str, float]:
    n = min(len(events), int(rate * seconds))
    events = events[:n]
    p = AIOKafkaProducer(bootstrap_servers=infra.bootstrap, linger_ms=1)
    await p.start()
    sent: dict[uuid.UUID, float] = {}
    seen: dict[uuid.UUID, float] = {}

    async def watch() -> None:
        while True:
            pending = [i for i in sent if i not in seen]
            if pending:
                rows = await conn.fetch("SELECT interaction_id FROM waste.interactions "
                                        "WHERE interaction_id = ANY($1::uuid[])", pending)
                now = time.perf_counter()
                for r in rows:
                    seen.setdefault(r["interaction_id"], now)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    t0 = time.perf_counter()
    for i, e in enumerate(events):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await p.send(e.topic, e.value, key=e.key, headers=list(e.headers))
        if e.event_type == "interaction.started":
            sent[uuid.UUID(json.loads(e.value)["stream_id"])] = time.perf_counter()
    await p.flush()
    deadline = time.perf_counter() + 60
    while len(seen) < len(sent) and time.perf_counter() < deadline:  # noqa: ASYNC110 - polling the DB
        await asyncio.sleep(0.05)
    watcher.cancel()
    await p.stop()
    lat = [(seen[i] - sent[i]) * 1000 for i in sent if i in seen]
    return {"rate_per_s": rate, "events": n, "sampled_interactions": len(sent),
            "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else float("nan"), "missing": len(sent) - len(seen)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "parameters": vars(args)}
    events = scenario(args.customers, args.days, args.seed)
    live = scenario(max(200, args.customers // 10), 7, args.seed + 1)
    results["events"] = len(events)
    with infrastructure() as infra:
        results["infrastructure"] = infra.kind
        await ensure_topics(infra.bootstrap, EVENT_TOPICS, 6, 1)
        print(f"producing {len(events):,} events …", flush=True)
        t = time.perf_counter()
        await produce(infra.bootstrap, events)
        results["produce_events_per_s"] = len(events) / (time.perf_counter() - t)
        print("plain aiokafka consumer, 3 reads …", flush=True)
        # the baseline is a few seconds of reading, noisy on a shared machine: the median
        # of three reads (each from the beginning, in a fresh consumer)
        reads = [await raw_consume_rate(infra.bootstrap, len(events)) for _ in range(3)]
        raw = sorted(reads)[1]
        results["plain_consumer_events_per_s"] = raw
        results["plain_consumer_reads_events_per_s"] = reads
        schema = f"bench_waste_{uuid.uuid4().hex[:6]}"
        conn = await asyncpg.connect(infra.dsn)
        log = Path("bench/results/waste-service.log")
        with service_process("leancrm_waste", infra, schema, log) as proc:
            rss = Rss(proc.pid)
            print("projector catching up …", flush=True)
            seconds, head = await wait_applied(conn, schema, len(events), rss)
            rate = (len(events) - head) / seconds
            results["projector"] = {"events_per_s": rate, "seconds": seconds,
                                    "ratio_vs_plain_consumer": rate / raw}
            print(f"projector: {rate:,.0f} events/s ({rate / raw:.3f} of plain); freshness …",
                  flush=True)
            results["freshness"] = await freshness(infra, conn, live, args.rate, args.seconds)
            rss.sample(await applied(conn, schema))
            results["memory"] = {
                "peak_rss_mb": rss.peak / 2**20,
                "rss_mb_by_events_applied": [
                    (a, round(r / 2**20, 1)) for a, r in rss.samples[:: max(1, len(rss.samples) // 12)]
                ],
            }
            print("rebuild …", flush=True)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "leancrm_waste", "rebuild"], check=True,  # noqa: ASYNC221
                           env={**os.environ, "LEANCRM_KAFKA_BOOTSTRAP": infra.bootstrap,
                                "LEANCRM_DATABASE_URL": infra.dsn, "LEANCRM_DB_SCHEMA": schema},
                           stdout=subprocess.DEVNULL)
            rebuild_s = time.perf_counter() - t
            total = len(events) + results["freshness"]["events"]
            results["rebuild"] = {"seconds": rebuild_s, "events": total,
                                  "events_per_s": total / rebuild_s}
        if args.instances > 1:
            # scale-out: instances in one consumer group share the partitions, each
            # applying its own batches in its own transactions (the effectively-once
            # tests check the views are identical to one instance's)
            schema2 = f"bench_waste_{uuid.uuid4().hex[:6]}"
            print(f"{args.instances} projector instances catching up …", flush=True)
            with contextlib.ExitStack() as procs:
                pids = [procs.enter_context(service_process(
                    "leancrm_waste", infra, schema2, Path(f"bench/results/waste-service-{i + 1}.log"))).pid
                    for i in range(args.instances)]
                seconds, head = await wait_applied(conn, schema2, total, Rss(pids[0]))
            rate = (total - head) / seconds
            results["projector_scaled_out"] = {
                "instances": args.instances, "events": total, "events_per_s": rate,
                "seconds": seconds, "ratio_vs_plain_consumer": rate / raw}
            print(f"{args.instances} instances: {rate:,.0f} events/s ({rate / raw:.3f} of plain)",
                  flush=True)
        await conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--instances", type=int, default=2,
                        help="projector instances of the scale-out measurement (1: skip it)")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    path = write_results("projector", results)
    print(json.dumps(results, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
