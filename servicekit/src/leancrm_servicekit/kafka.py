"""Kafka edges shared by every service: topic creation and producers.

Written to the subset that works on both Apache Kafka and the embedded broker
(shared/notes/embedded-broker.md): explicit topic creation that reads the
response's error codes, ``acks=all`` producers with no idempotence and no
transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

TOPIC_ALREADY_EXISTS = 36


def encode_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in headers]


def decode_headers(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (headers or ())}


async def ensure_topics(
    bootstrap: str, topics: Iterable[str], partitions: int, replication_factor: int
) -> list[str]:
    """Create the topics that are missing; return the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=replication_factor) for t in missing]
        )
        created = []
        for topic, code, *rest in getattr(response, "topic_errors", getattr(response, "topics", [])):
            if code == 0:
                created.append(topic)
            elif code != TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"creating topic {topic} failed with Kafka error code {code}: {rest}")
        return created
    finally:
        await admin.close()


def make_producer(bootstrap: str, **overrides: object) -> AIOKafkaProducer:
    """An at-least-once producer: acks=all, no idempotence, no transactions."""
    options: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "acks": "all",
        "enable_idempotence": False,
        "linger_ms": 2,
        "request_timeout_ms": 10000,
        "retry_backoff_ms": 200,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def stop_quietly(producer: AIOKafkaProducer, timeout_s: float = 5.0) -> None:
    with contextlib.suppress(Exception):  # best effort on shutdown, timeouts included
        await asyncio.wait_for(producer.stop(), timeout_s)
