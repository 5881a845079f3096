"""The harness's own pure parts: seeded plans, hostile records and their expected
verdicts (checked against an independent reading of contract section 2.4), percentiles."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from aiokafka.structs import ConsumerRecord
from rich.console import Console

from leancrm_chaos import checks, faults, journal, malformed, report, settle, topics, traffic

PROCESSES = {"consumer": ["customers-consumer", "interactions-consumer", "feedback-consumer"],
             "relay": ["customers-relay", "interactions-relay", "feedback-relay"],
             "projector": ["waste-1", "waste-2"]}


def usable_command_id(value: bytes | None) -> bool:
    """Contract §2 and §2.4, read independently: one UTF-8 JSON object (RFC 8259: no
    byte-order mark, no NaN; any depth, any number of digits) whose command_id is a
    string of 1–128 characters."""
    if value is None or value.startswith(b"\xef\xbb\xbf"):
        return False
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return False

    def no_constants(name: str) -> None:
        raise ValueError(name)

    limit, digits = sys.getrecursionlimit(), sys.get_int_max_str_digits()
    sys.setrecursionlimit(20_000)
    sys.set_int_max_str_digits(0)
    try:
        obj = json.loads(text, parse_constant=no_constants)
    except ValueError:
        return False
    finally:
        sys.setrecursionlimit(limit)
        sys.set_int_max_str_digits(digits)
    command_id = obj.get("command_id") if isinstance(obj, dict) else None
    return isinstance(command_id, str) and 1 <= len(command_id) <= 128


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    one = faults.plan_faults(5, 600, 50, 3, 60, PROCESSES, 3.0)
    assert one == faults.plan_faults(5, 600, 50, 3, 60, PROCESSES, 3.0)
    assert one != faults.plan_faults(6, 600, 50, 3, 60, PROCESSES, 3.0)
    assert malformed.plan(5, 500) == malformed.plan(5, 500)
    values = [malformed.build(s).value for s in malformed.plan(5, 200)]
    assert values == [malformed.build(s).value for s in malformed.plan(5, 200)]


def test_the_fault_plan_has_every_fault_in_the_window() -> None:
    planned = faults.plan_faults(9, 120, 6, 1, 10, PROCESSES, 3.0)
    kinds = Counter(f.kind for f in planned)
    assert kinds == {faults.KILL: 6, faults.PG_RESTART: 1, faults.BROKER_PAUSE: 1}
    killed = {next(k for k, names in PROCESSES.items() if f.target in names)
              for f in planned if f.kind == faults.KILL}
    assert killed == set(PROCESSES), "a short run kills each kind of process"
    assert all(0 < f.at_s < 120 and 0 <= f.hold_s <= 10 for f in planned)
    pause = next(f for f in planned if f.kind == faults.BROKER_PAUSE)
    assert pause.at_s + pause.hold_s <= 0.9 * 120
    restart = next(f for f in planned if f.kind == faults.PG_RESTART)
    assert not pause.at_s - 5 <= restart.at_s <= pause.at_s + pause.hold_s + 5


def test_a_short_plan_covers_every_kind_on_command_and_event_topics() -> None:
    specs = malformed.plan(11, 300)
    assert len(specs) == 300 == len({s.marker for s in specs})
    covered = {(s.kind, s.topic_class) for s in specs}
    assert covered == {(k.name, c) for k in malformed.KINDS for c in (malformed.COMMAND, malformed.EVENT)}
    variants = {(s.kind, s.variant) for s in specs if s.topic_class == malformed.COMMAND}
    assert variants == {(k.name, v) for k in malformed.KINDS for v in k.command_variants}


def test_big_records_are_capped_in_a_long_plan() -> None:
    counts = Counter(s.kind for s in malformed.plan(1, 10_000))
    assert sum(counts.values()) == 10_000
    assert counts["one_mib"] <= 20 and counts["over_one_mib"] <= 20
    assert counts["unknown_fields"] <= 100


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_expected_verdict_follows_the_contract(seed: int) -> None:
    for spec in malformed.plan(seed, 400):
        record = malformed.build(spec)
        assert topics.marker_of_key(record.key) == spec.marker
        if spec.topic_class == malformed.EVENT:
            assert spec.expect == malformed.DEAD_LETTER and spec.consumer == "waste"
            continue
        usable = usable_command_id(record.value)
        assert spec.expect == (malformed.INVALID if usable else malformed.DEAD_LETTER), (
            spec, (record.value or b"")[:200])
        if spec.expect == malformed.INVALID:
            assert spec.marker in record.command_ids


def test_sizes_are_what_each_kind_says() -> None:
    for spec in malformed.plan(4, 400):
        record = malformed.build(spec)
        value = record.value or b""
        if spec.kind == "one_mib":
            assert 1_000_000 <= len(value) < malformed.PRODUCER_LIMIT
            assert not record.needs_raised_producer
        elif spec.kind == "over_one_mib":
            assert malformed.PRODUCER_LIMIT < len(value) <= malformed.PRODUCER_LIMIT + 8192
            assert record.needs_raised_producer
        elif spec.kind == "null_value":
            assert record.value is None
        elif spec.kind == "empty_value":
            assert record.value == b""
        elif spec.kind == "huge_key":
            assert len(record.key or b"") > 300_000
        elif spec.kind == "long_command_id" and spec.topic_class == malformed.COMMAND:
            assert len(json.loads(value)["command_id"]) == int(spec.variant)


def test_percentiles() -> None:
    assert report.percentile([], 50) is None
    assert report.percentile([3.0], 99) == 3.0
    assert report.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert report.percentile([float(i) for i in range(1, 101)], 99) == pytest.approx(99.01)


def _record(topic: str, value: bytes, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, None, value, None, 0, len(value), [])


def _result(command_id: str, status: str, processed_at: str) -> bytes:
    return json.dumps({"command_id": command_id, "command_type": "register_customer",
                       "status": status, "event_ids": [] if status == "rejected" else ["e-1"],
                       "error": None, "processed_at": processed_at}).encode()


def test_the_result_check_counts_lost_answered_again_and_republished_results(tmp_path: Path) -> None:
    commands, results = "crm.customers.commands.v1", "crm.command-results.v1"
    state = topics.TopicState()
    sent = {}
    for n in range(5):
        cid = f"c-{n}"
        sent[cid] = traffic.SentRecord(cid, commands, f"k{n}", 0, n, "2026-12-01T00:00:00.000Z")
        state.take(_record(commands, json.dumps({"command_id": cid}).encode(), n))
    for offset, (cid, status, at) in enumerate([
            ("c-0", "accepted", "t0"),
            # c-1 lost; c-2 answered twice (a redelivered record answered again)
            ("c-2", "accepted", "t1"), ("c-2", "duplicate", "t2"),
            # c-3 published twice byte for byte (at-least-once relay); c-4 rejected
            ("c-3", "accepted", "t3"), ("c-3", "accepted", "t3"), ("c-4", "rejected", "t4")]):
        state.take(_record(results, _result(cid, status, at), offset))
    totals = checks.Totals()
    windows = checks.FaultWindows(journal.Journal(tmp_path / "j.jsonl", Console(quiet=True)), [])
    found = checks.check_results(sent, [], state, windows, totals)
    assert not found.ok
    assert found.counts["lost"] == 1 and totals.lost == 1
    assert (found.counts["answered_again"], found.counts["republished_copy"]) == (1, 1)
    assert totals.duplicated == 2
    assert found.counts["not_accepted"] == 1


def test_the_lag_gauges_are_read_from_a_metrics_page() -> None:
    page = ("# HELP leancrm_consumer_lag Messages behind the fetch high watermark\n"
            'leancrm_consumer_lag{partition="3",topic="crm.customers.events.v1"} 5.0\n'
            'leancrm_consumer_lag{partition="1",topic="crm.feedback.events.v1"} 0.0\n'
            'leancrm_messages_in_total{topic="crm.customers.events.v1"} 12.0\n')
    assert settle.metrics_lag(page) == {"crm.customers.events.v1/3": 5.0,
                                        "crm.feedback.events.v1/1": 0.0}
