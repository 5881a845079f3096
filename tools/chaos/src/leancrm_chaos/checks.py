"""The checks after a run, each with its evidence: nothing lost, nothing doubled, every
hostile record answered as the contract says, the read model exact, nothing stalled.

Every check is computed from what an outside observer can see — the topics read from
the beginning, the databases — against what the harness sent, never from what the
services say about themselves.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leancrm_contracts.envelope import DLQ_HEADERS

from .faults import MalformedSent
from .journal import Journal
from .malformed import DEAD_LETTER, INVALID, build
from .probes import Probe
from .readmodel import DatabaseSnapshot
from .settle import Settled
from .topics import DeadLetterSeen, ResultSeen, TopicState, marker_of_text
from .traffic import SentRecord

DLQ_ERROR_CODES = {"undecodable", "invalid_envelope", "invalid_data", "unsupported_version"}
SERVICE_OF_TOPIC_PREFIX = {"crm.customers.": "customers", "crm.interactions.": "interactions",
                           "crm.feedback.": "feedback", "crm.improvements.": "improvements"}
EXAMPLES = 8


@dataclass
class Check:
    name: str
    what: str
    ok: bool
    summary: str
    counts: dict[str, int] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "what": self.what, "ok": self.ok, "summary": self.summary,
                "counts": self.counts, "evidence": self.evidence}


@dataclass
class Totals:
    lost: int = 0
    duplicated: int = 0
    stalls: int = 0
    wrong_verdicts: int = 0
    phantom_events: int = 0


@dataclass
class FaultWindows:
    """When each fault happened, to name the faults that preceded a finding."""

    journal: Journal
    windows: list[dict[str, Any]]

    def before(self, at: str | None, within_s: float = 30.0) -> list[dict[str, Any]]:
        if not at:
            return []
        t = self.journal.since_start(at)
        if t is None:
            return []
        near = [w for w in self.windows if w["from_s"] <= t + 1.0 and w["to_s"] >= t - within_s]
        return sorted(near, key=lambda w: abs(t - float(w["to_s"])))[:3]


def service_of_topic(topic: str) -> str:
    for prefix, service in SERVICE_OF_TOPIC_PREFIX.items():
        if topic.startswith(prefix):
            return service
    return "?"


def check_results(sent: dict[str, SentRecord], probes: list[Probe], state: TopicState,
                  faults: FaultWindows, totals: Totals) -> Check:
    """Every valid command sent has exactly one result per copy on its topic (contract §1:
    one result per command received), and the first is ``accepted``."""
    expected: dict[str, tuple[str, str | None, int | None, int | None]] = {
        cid: (r.topic, r.sent_at, r.partition, r.offset) for cid, r in sent.items()}
    for p in probes:
        if p.sent_mono is not None or state.command_copies.get(p.command_id):
            expected[p.command_id] = (p.command.topic, None, None, None)
    lost, duplicated, not_accepted, not_on_topic = [], [], [], []
    for cid, (topic, sent_at, partition, offset) in expected.items():
        copies = state.command_copies.get(cid, 0)
        results = state.results.get(cid, [])
        where = {"command_id": cid, "topic": topic, "partition": partition, "offset": offset,
                 "sent_at": sent_at}
        if copies == 0:
            not_on_topic.append({**where, "preceding_faults": faults.before(sent_at)})
            continue
        if len(results) < copies:
            lost.append({**where, "copies_on_topic": copies, "results": len(results),
                         "preceding_faults": faults.before(sent_at)})
        elif len(results) > copies:
            extra = results[copies]
            distinct = len({_identity(r) for r in results})
            duplicated.append({**where, "copies_on_topic": copies,
                               "how": "answered_again" if distinct > copies else "republished_copy",
                               "results": [_result(r) for r in results],
                               "preceding_faults": faults.before(extra.processed_at)})
        if results and results[0].status != "accepted":
            not_accepted.append({**where, "result": _result(results[0]),
                                 "preceding_faults": faults.before(results[0].processed_at)})
    extra_results = sum(max(0, len(state.results.get(c, [])) - state.command_copies.get(c, 0))
                        for c in expected if state.command_copies.get(c, 0))
    how = Counter(str(d["how"]) for d in duplicated)
    totals.lost += len(lost) + len(not_on_topic)
    totals.duplicated += extra_results
    ok = not (lost or duplicated or not_accepted or not_on_topic)
    return Check(
        "valid_command_results",
        "every valid command sent (the scenario's and the probes') has exactly one result on "
        "crm.command-results.v1 per copy on its topic, and it is accepted",
        ok,
        f"{len(expected):,} commands: {len(lost)} lost, {len(duplicated)} with extra results "
        f"({extra_results} extra: {how['answered_again']} answered again, "
        f"{how['republished_copy']} republished byte for byte), {len(not_accepted)} not accepted, "
        f"{len(not_on_topic)} never on their topic",
        {"commands": len(expected), "lost": len(lost), "duplicated": len(duplicated),
         "extra_results": extra_results, "answered_again": how["answered_again"],
         "republished_copy": how["republished_copy"], "not_accepted": len(not_accepted),
         "not_on_topic": len(not_on_topic)},
        [{"problem": "lost", **e} for e in lost[:EXAMPLES]]
        + [{"problem": "duplicated", **e} for e in duplicated[:EXAMPLES]]
        + [{"problem": "not_accepted", **e} for e in not_accepted[:EXAMPLES]]
        + [{"problem": "not_on_topic", **e} for e in not_on_topic[:EXAMPLES]])


def _identity(r: ResultSeen) -> tuple[Any, ...]:
    """What tells a second answer from the same answer published again (at least once)."""
    return (r.status, r.code, r.event_ids, r.processed_at)


def _letter_identity(d: DeadLetterSeen) -> tuple[Any, ...]:
    return (d.value_sha256, d.headers.get("dlq_at"), d.headers.get("dlq_source_offset"))


def _result(r: ResultSeen) -> dict[str, Any]:
    return {"status": r.status, "code": r.code, "message": r.message,
            "processed_at": r.processed_at, "partition": r.partition, "offset": r.offset}


def check_malformed(malformed: list[MalformedSent], state: TopicState, applied: set[str],
                    faults: FaultWindows, totals: Totals) -> Check:
    """Every hostile record has exactly its expected verdict; a dead letter carries the
    section 2.4 headers naming its source, and the original value (or, cut, its prefix with
    the original's SHA-256)."""
    problems: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    evidence: list[dict[str, Any]] = []
    not_sent = 0
    for m in malformed:
        spec = m.spec
        tally = by_kind.setdefault(f"{spec.kind} → {spec.topic_class} topic", Counter())
        if m.offset is None:
            not_sent += 1
            tally["not_sent"] += 1
            continue
        letters = state.dead_letters.get(spec.marker, [])
        results = [r for cid in dict.fromkeys(m.command_ids) for r in state.results.get(cid, [])]
        verdicts = len(letters) + len(results)
        problem: str | None = None
        detail: dict[str, Any] = {}
        if m.event_id is not None and m.event_id in applied:
            problem = "applied_to_the_read_model"
            totals.wrong_verdicts += 1
        elif verdicts == 0:
            problem = "no_verdict"
            totals.lost += 1
        elif verdicts > 1 and ((spec.expect == INVALID and len(results) > 1 and not letters)
                               or (spec.expect == DEAD_LETTER and len(letters) > 1 and not results)):
            distinct = (len({_identity(r) for r in results}) if results
                        else len({_letter_identity(d) for d in letters}))
            problem = ("duplicated_verdict_answered_again" if distinct > 1
                       else "duplicated_verdict_republished_copy")
            totals.duplicated += verdicts - 1
        elif spec.expect == INVALID:
            if letters or len(results) != 1:
                problem = "dead_lettered_instead_of_invalid" if letters else "wrong_verdict"
            elif (results[0].status, results[0].code) != ("rejected", "invalid"):
                problem = f"answered_{results[0].status}_{results[0].code or ''}".rstrip("_")
            if problem:
                totals.wrong_verdicts += 1
        else:
            if results:
                problem = "answered_instead_of_dead_lettered"
                totals.wrong_verdicts += 1
            else:
                bad = _dead_letter_faults(m, letters[0].headers, letters[0].value_sha256,
                                          letters[0].value_len)
                if bad:
                    problem = "bad_dead_letter"
                    detail["faults"] = bad
                    totals.wrong_verdicts += 1
        tally["ok" if problem is None else problem] += 1
        if problem is not None:
            problems[problem] += 1
            if sum(1 for e in evidence if e["problem"] == problem and e["kind"] == spec.kind) < 2:
                evidence.append({
                    "problem": problem, "marker": spec.marker, "kind": spec.kind,
                    "variant": spec.variant, "topic": spec.topic, "expect": spec.expect,
                    "partition": m.partition, "offset": m.offset, "size": m.size,
                    "results": [_result(r) for r in results[:3]],
                    "dead_letters": [{"headers": {k: v[:300] for k, v in d.headers.items()
                                                  if k.startswith("dlq_")},
                                      "value_len": d.value_len} for d in letters[:3]],
                    "preceding_faults": faults.before(m.sent_at), **detail})
    acked = sum(1 for m in malformed if m.offset is not None)
    bad_total = sum(problems.values())
    return Check(
        "malformed_verdicts",
        "every malformed record has exactly its expected verdict: a rejected/invalid result "
        "(usable command_id on a command topic) or one dead letter with a non-empty dlq_reason, "
        "the right dlq_source_topic/partition/offset and dlq_consumer, and the original value",
        (bad_total == 0 and not_sent == 0 and acked > 0) or not malformed,
        f"{acked:,} malformed records sent: {acked - bad_total:,} right, {bad_total:,} wrong "
        f"({', '.join(f'{k} {v}' for k, v in problems.most_common()) or 'none'})"
        + (f"; {not_sent} could not be sent" if not_sent else ""),
        {"sent": acked, "right": acked - bad_total, "wrong": bad_total, "not_sent": not_sent,
         **{f"problem_{k}": v for k, v in problems.items()}},
        [{"problem": "tally_by_kind", "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())}},
         *evidence[:60]])


def _dead_letter_faults(m: MalformedSent, headers: dict[str, str], value_sha: str,
                        value_len: int) -> list[str]:
    spec = m.spec
    out = []
    missing = [h for h in DLQ_HEADERS if h not in headers]
    if missing:
        out.append(f"missing headers {missing}")
    if not headers.get("dlq_reason", "").strip():
        out.append("empty dlq_reason")
    if headers.get("dlq_source_topic") != spec.topic:
        out.append(f"dlq_source_topic {headers.get('dlq_source_topic')!r}, sent to {spec.topic!r}")
    if headers.get("dlq_consumer") != spec.consumer:
        out.append(f"dlq_consumer {headers.get('dlq_consumer')!r}, expected {spec.consumer!r}")
    if headers.get("dlq_source_partition") != str(m.partition):
        out.append(f"dlq_source_partition {headers.get('dlq_source_partition')!r}, was {m.partition}")
    if headers.get("dlq_source_offset") != str(m.offset):
        out.append(f"dlq_source_offset {headers.get('dlq_source_offset')!r}, was {m.offset}")
    if headers.get("dlq_error_code") not in DLQ_ERROR_CODES:
        out.append(f"dlq_error_code {headers.get('dlq_error_code')!r}")
    try:
        if datetime.fromisoformat(headers.get("dlq_at", "").replace("Z", "+00:00")).tzinfo is None:
            out.append("dlq_at has no offset")
    except ValueError:
        out.append(f"dlq_at {headers.get('dlq_at')!r} is not a timestamp")
    if value_sha != m.sha256:
        original = build(spec).value or b""
        truncated = (value_len < len(original)
                     and headers.get("dlq_original_sha256") == m.sha256
                     and hashlib.sha256(original[:value_len]).hexdigest() == value_sha)
        if not truncated:
            out.append(f"value is not the original ({value_len:,} bytes, the original "
                       f"{len(original):,}) nor its prefix with dlq_original_sha256")
    return out


def check_no_events_from_malformed(valid_ids: set[str], malformed: list[MalformedSent],
                                   db: DatabaseSnapshot, state: TopicState,
                                   totals: Totals) -> Check:
    """No event was caused by anything but a valid command, and no hostile record on an
    event topic reached the read model."""
    kinds = {m.spec.marker: f"{m.spec.kind}/{m.spec.variant} → {m.spec.topic}" for m in malformed}
    stored = [(eid, e) for eid, e in db.events.items() if e.causation_id not in valid_ids]
    published = [(eid, c) for eid, c in state.event_causation.items()
                 if c not in valid_ids and eid not in db.events]
    hostile_ids = {m.event_id: m.spec for m in malformed if m.event_id}
    applied = sorted(set(hostile_ids) & db.seen)
    totals.phantom_events += len(stored) + len(published) + len(applied)
    evidence = [{"problem": "stored_event_not_from_a_valid_command", "event_id": eid,
                 "service": e.service, "event_type": e.event_type, "causation_id": e.causation_id,
                 "malformed_kind": kinds.get(marker_of_text(e.causation_id) or "")}
                for eid, e in stored[:EXAMPLES]]
    evidence += [{"problem": "published_event_not_stored", "event_id": eid, "causation_id": c}
                 for eid, c in published[:EXAMPLES]]
    evidence += [{"problem": "hostile_event_applied", "event_id": eid, "marker": hostile_ids[eid].marker,
                  "kind": hostile_ids[eid].kind, "variant": hostile_ids[eid].variant,
                  "topic": hostile_ids[eid].topic} for eid in applied[:EXAMPLES]]
    by_kind = Counter(kinds.get(marker_of_text(e.causation_id) or "", "not a hostile record")
                      for _, e in stored)
    return Check(
        "no_events_from_malformed",
        "every stored or published event was caused by a valid command, and no hostile record "
        "on an event topic reached the read model",
        not (stored or published or applied),
        f"{len(stored)} stored events not caused by a valid command, {len(published)} published "
        f"events not in any store, {len(applied)} hostile events applied",
        {"stored": len(stored), "published_not_stored": len(published), "applied": len(applied),
         **{f"from {k}": v for k, v in by_kind.items()}},
        evidence)


def check_read_model(db: DatabaseSnapshot, state: TopicState, totals: Totals) -> Check:
    """Every stored event was published and is counted exactly once in the read model."""
    stored = set(db.events)
    unpublished = stored - set(state.event_copies)
    missing = stored - db.seen
    extra = db.seen - stored
    totals.lost += len(unpublished | missing)
    by_type = Counter(db.events[e].event_type for e in missing)
    evidence = [{"problem": "stored_not_published", "event_id": e, **vars(db.events[e])}
                for e in sorted(unpublished)[:EXAMPLES]]
    evidence += [{"problem": "stored_not_in_read_model", "event_id": e, **vars(db.events[e])}
                 for e in sorted(missing)[:EXAMPLES]]
    evidence += [{"problem": "in_read_model_not_stored", "event_id": e} for e in sorted(extra)[:EXAMPLES]]
    republished = sum(1 for n in state.event_copies.values() if n > 1)
    return Check(
        "events_exactly_once_in_read_model",
        "every event in the three event stores is on its event topic and in the read model's "
        "seen_events exactly once (seen_events = stored events)",
        not (unpublished or missing or extra),
        f"{len(stored):,} stored events: {len(unpublished)} never published, {len(missing)} not in "
        f"the read model, {len(extra)} in the read model but in no store "
        f"({republished} published more than once, which consumers deduplicate)",
        {"stored": len(stored), "seen": len(db.seen), "unpublished": len(unpublished),
         "missing": len(missing), "extra": len(extra), "published_more_than_once": republished,
         **{f"missing {k}": v for k, v in by_type.items()}},
        evidence)


def check_unexpected(valid_ids: set[str], malformed: list[MalformedSent], state: TopicState,
                     totals: Totals) -> Check:
    """No dead letter of anything but a hostile record, no result for an unknown command."""
    known = valid_ids | {c for m in malformed for c in m.command_ids}
    unknown_results = {cid: rs for cid, rs in state.results.items()
                       if cid not in known and marker_of_text(cid) is None}
    letters = state.other_dead_letters
    totals.lost += len(letters)
    evidence: list[dict[str, Any]] = [{"problem": "dead_letter_of_a_valid_message", "key": d.key_prefix,
                 "headers": {k: v[:300] for k, v in d.headers.items() if k.startswith("dlq_")}}
                for d in letters[:EXAMPLES]]
    evidence += [{"problem": "result_for_unknown_command", "command_id": cid[:200],
                  "results": [_result(r) for r in rs[:2]]}
                 for cid, rs in list(unknown_results.items())[:EXAMPLES]]
    return Check(
        "nothing_unexpected_on_topics",
        "the DLQ holds only the harness's hostile records; every result answers a command sent",
        not letters and not unknown_results and state.results_unreadable == 0,
        f"{len(letters)} dead letters of other records, {len(unknown_results)} results for unknown "
        f"commands, {state.results_unreadable} unreadable results",
        {"other_dead_letters": len(letters), "unknown_results": len(unknown_results),
         "unreadable_results": state.results_unreadable},
        evidence)


def check_at_rest(settled: Settled) -> tuple[Check, Check]:
    st = settled.state
    outbox = {k: v for k, v in st.outbox_rows.items() if v != 0}
    lag = {**{f"commands {k}": v for k, v in st.command_lag.items()},
           **{f"projector {k}": v for k, v in st.projector_lag.items()}}
    reported = {k: v for k, v in st.projector_reported_lag.items() if v.get("total") != 0}
    gauges = {(instance, tp): v for instance, g in st.metrics_lag.items() for tp, v in g.items()}
    outbox_check = Check(
        "outboxes_empty", "every service's outbox is empty once the system has settled",
        not outbox, f"outbox rows: {st.outbox_rows}", {k: v or 0 for k, v in st.outbox_rows.items()},
        [{"problem": "outbox_not_empty", "service": k, "rows": v} for k, v in outbox.items()])
    lag_check = Check(
        "lag_zero",
        "command consumer groups committed to the high watermark; the projector's stored "
        "offsets at the high watermark and its /api/v1/lag 0; every service ready",
        not lag and not reported and not st.not_ready and not gauges,
        f"settled: {settled.at_rest} after {settled.took_s:.1f}s; partitions behind: {len(lag)}; "
        f"not ready: {sorted(st.not_ready)}; non-zero leancrm_consumer_lag gauges on /metrics: "
        f"{len(gauges)} ({sum(1 for v in gauges.values() if not v['held'])} of partitions the "
        "instance no longer holds)",
        {"partitions_behind": len(lag), "messages_behind": sum(v or 0 for v in lag.values()),
         "not_ready": len(st.not_ready), "metrics_gauges_not_zero": len(gauges)},
        [{"problem": "behind", "where": k, "by": v} for k, v in list(lag.items())[:EXAMPLES]]
        + [{"problem": "reported_lag", "instance": k, **v} for k, v in reported.items()]
        + [{"problem": "metrics_lag_not_zero_at_rest", "instance": i, "partition": tp, **v}
           for (i, tp), v in list(gauges.items())[:EXAMPLES]]
        + [{"problem": "not_ready", "process": k, **v} for k, v in st.not_ready.items()]
        + [{"problem": "harness", "error": e} for e in st.errors])
    return outbox_check, lag_check


def check_stalls(probes: list[Probe], settled: Settled, totals: Totals) -> Check:
    stalled = [p for p in probes if p.stalled or not p.recovered]
    stuck = settled.state.stuck_lines() if not settled.at_rest else []
    totals.stalls += len(stalled) + (len(stuck) or (0 if settled.at_rest else 1))
    return Check(
        "no_stalls",
        "every recovery probe's result is out and its events are in the read model within the "
        "deadline; every line comes to rest after the window",
        not stalled and settled.at_rest,
        f"{len(probes)} probes, {len(stalled)} not through in time; "
        + ("settled" if settled.at_rest else f"NOT settled: {len(stuck)} stuck lines"),
        {"probes": len(probes), "stalled_probes": len(stalled), "stuck_lines": len(stuck)},
        [{"problem": "probe_stalled", **p.as_dict()} for p in stalled[:EXAMPLES]]
        + [{"problem": "stuck_line", "line": line} for line in stuck[:EXAMPLES]])


def valid_ids_of(sent: dict[str, SentRecord], probes: Iterable[Probe]) -> set[str]:
    return set(sent) | {p.command_id for p in probes}
