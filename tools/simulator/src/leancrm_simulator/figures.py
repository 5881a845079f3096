"""What the waste projector should make of a scenario (contract section 5), computed
straight from the commands: a preview for ``--dry-run`` and the yardstick the knob
tests measure. It assumes every command is accepted (a valid scenario).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .model import DAY, HOUR, INTERACTION_COMMANDS, SECOND, SimCommand

TARGET_OCCUPANCY = 0.85
REPEAT_WINDOW_MS = 7 * DAY


@dataclass(slots=True)
class _Contact:
    interaction_id: str
    customer_id: str
    channel: str
    reason: str
    started_ms: int
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)


@dataclass(slots=True)
class Figures:
    """Totals over the whole scenario; seconds are business time."""

    contacts: int = 0
    contacts_by_channel: Counter[str] = field(default_factory=Counter)
    resolved: int = 0
    resolved_by: Counter[str] = field(default_factory=Counter)
    abandoned: int = 0
    unresolved: int = 0
    still_open: int = 0
    first_contact_resolutions: int = 0
    failure_demand: int = 0
    identifications: int = 0
    over_processing: int = 0
    motion: int = 0
    transportation: int = 0
    defects: int = 0
    inventory: int = 0
    queue_wait_s: float = 0.0
    #: queue waiting by the channel the contact waited on (after a transfer: the new one)
    queue_wait_s_by_channel: defaultdict[str, float] = field(
        default_factory=lambda: defaultdict(float))
    hold_s: float = 0.0
    handle_s: float = 0.0
    value_added_s: float = 0.0
    lead_time_s: float = 0.0
    staffed_s: float = 0.0
    busy_s: float = 0.0
    overproduction_s: float = 0.0
    sign_ins: int = 0
    feedback_by_source: Counter[str] = field(default_factory=Counter)
    anonymous_feedback: int = 0
    feedback_about_interactions: int = 0
    idea_votes: int = 0
    customers_registered: int = 0
    customers_forgotten: int = 0
    improvements_started: int = 0
    #: ended improvements by outcome (adopted, abandoned)
    improvements_ended: Counter[str] = field(default_factory=Counter)

    @property
    def occupancy(self) -> float | None:
        return self.busy_s / self.staffed_s if self.staffed_s else None

    @property
    def fcr_rate(self) -> float | None:
        return self.first_contact_resolutions / self.contacts if self.contacts else None

    @property
    def failure_demand_rate(self) -> float | None:
        return self.failure_demand / self.contacts if self.contacts else None

    @property
    def flow_efficiency(self) -> float | None:
        return self.value_added_s / self.lead_time_s if self.lead_time_s else None

    @property
    def staffed_s_per_contact(self) -> float | None:
        return self.staffed_s / self.contacts if self.contacts else None

    def rows(self) -> list[tuple[str, str]]:
        """(figure, value) pairs for a table."""
        def pct(x: float | None) -> str:
            return "—" if x is None else f"{100 * x:.1f} %"

        return [
            ("contacts", f"{self.contacts:,}"),
            ("resolved / unresolved / abandoned / open",
             f"{self.resolved:,} / {self.unresolved:,} / {self.abandoned:,} / {self.still_open:,}"),
            ("first-contact resolution", pct(self.fcr_rate)),
            ("failure demand", pct(self.failure_demand_rate)),
            ("waiting (queue + hold)", f"{(self.queue_wait_s + self.hold_s) / 3600:,.1f} h"),
            ("  queue waiting on phone / chat / email", " / ".join(
                f"{self.queue_wait_s_by_channel.get(c, 0.0) / 3600:,.1f} h"
                for c in ("phone", "chat", "email"))),
            ("over-processing (repeat identifications)", f"{self.over_processing:,}"),
            ("motion (same-channel transfers)", f"{self.motion:,}"),
            ("transportation (channel switches)", f"{self.transportation:,}"),
            ("defects", f"{self.defects:,}"),
            ("inventory (ended > 24 h after start)", f"{self.inventory:,}"),
            ("overproduction (idle beyond 85 % occupancy)",
             f"{self.overproduction_s / 3600:,.1f} h"),
            ("staffed / busy", f"{self.staffed_s / 3600:,.1f} h / {self.busy_s / 3600:,.1f} h"),
            ("occupancy", pct(self.occupancy)),
            ("flow efficiency", pct(self.flow_efficiency)),
            ("feedback / idea votes", f"{sum(self.feedback_by_source.values()):,} / "
                                      f"{self.idea_votes:,}"),
            ("improvements started / adopted / abandoned",
             f"{self.improvements_started} / {self.improvements_ended['adopted']} / "
             f"{self.improvements_ended['abandoned']}"),
        ]


def _add_by_hour(bucket: dict[tuple[int, str], float], team: str, start: int, end: int) -> None:
    while start < end:
        hour = start - start % HOUR
        upto = min(end, hour + HOUR)
        bucket[(hour, team)] += (upto - start) / SECOND
        start = upto


def measure(commands: Iterable[SimCommand]) -> Figures:
    """The section-5 figures of a scenario's commands."""
    f = Figures()
    contacts: dict[str, _Contact] = {}
    order: list[_Contact] = []
    signed_in: dict[str, tuple[int, str]] = {}
    staffed: dict[tuple[int, str], float] = defaultdict(float)
    busy: dict[tuple[int, str], float] = defaultdict(float)
    for c in commands:
        d, ct = c.data, c.command_type
        if ct == "start_interaction":
            contact = _Contact(d["interaction_id"], d["customer_id"], d["channel"], d["reason"],
                               c.at_ms)
            contacts[contact.interaction_id] = contact
            order.append(contact)
        elif ct in INTERACTION_COMMANDS:
            contacts[d["interaction_id"]].events.append((c.at_ms, ct, d))
        elif ct == "sign_in_agent":
            signed_in[d["agent_id"]] = (c.at_ms, d["team"])
            f.sign_ins += 1
        elif ct == "sign_out_agent":
            start, team = signed_in.pop(d["agent_id"])
            _add_by_hour(staffed, team, start, c.at_ms)
        elif ct == "submit_feedback":
            f.feedback_by_source[d["source"]] += 1
            f.anonymous_feedback += d["customer_id"] is None
            f.feedback_about_interactions += d["interaction_id"] is not None
        elif ct == "vote_idea":
            f.idea_votes += 1
        elif ct == "register_customer":
            f.customers_registered += 1
        elif ct == "forget_customer":
            f.customers_forgotten += 1
        elif ct == "start_improvement":
            f.improvements_started += 1
        elif ct == "end_improvement":
            f.improvements_ended[d["outcome"]] += 1

    last_by_customer_reason: dict[tuple[str, str], _Contact] = {}
    repeated: set[str] = set()
    transferred: set[str] = set()
    resolved_ids: set[str] = set()
    for contact in order:
        f.contacts += 1
        f.contacts_by_channel[contact.channel] += 1
        earlier = last_by_customer_reason.get((contact.customer_id, contact.reason))
        if earlier is not None and contact.started_ms - earlier.started_ms <= REPEAT_WINDOW_MS:
            f.failure_demand += 1
            repeated.add(earlier.interaction_id)
            f.defects += 1  # repeat_contact, on the earlier one
        last_by_customer_reason[(contact.customer_id, contact.reason)] = contact
        _measure_one(f, contact, busy, transferred, resolved_ids)
    f.first_contact_resolutions = len(resolved_ids - transferred - repeated)
    f.staffed_s = sum(staffed.values())
    f.busy_s = sum(busy.values())
    for key, staffed_s in staffed.items():
        idle = staffed_s - busy.get(key, 0.0)
        f.overproduction_s += max(0.0, idle - (1 - TARGET_OCCUPANCY) * staffed_s)
    return f


def _measure_one(f: Figures, contact: _Contact, busy: dict[tuple[int, str], float],
                 transferred: set[str], resolved_ids: set[str]) -> None:
    queued_at: int | None = None
    hold_at: int | None = None
    segment: tuple[int, str] | None = None
    segment_hold_ms = 0
    transfers, channel = 0, contact.channel
    resolved_by: str | None = None
    resolved_in_segment: int | None = None
    abandoned = False
    ended_at: int | None = None
    for at, ct, d in contact.events:
        if queued_at is not None and ct in ("assign_agent", "abandon_interaction",
                                            "end_interaction"):
            f.queue_wait_s += (at - queued_at) / SECOND
            f.queue_wait_s_by_channel[channel] += (at - queued_at) / SECOND
            queued_at = None
        if hold_at is not None and ct in ("end_hold", "transfer_interaction", "end_interaction"):
            f.hold_s += (at - hold_at) / SECOND
            segment_hold_ms += at - hold_at
            hold_at = None
        if segment is not None and ct in ("transfer_interaction", "end_interaction"):
            f.handle_s += (at - segment[0]) / SECOND
            _add_by_hour(busy, segment[1], segment[0], at)
            if resolved_in_segment is not None and resolved_by == "agent":
                f.value_added_s += (at - segment[0] - segment_hold_ms) / SECOND
                resolved_in_segment = None
            segment = None
        match ct:
            case "identify_customer":
                f.identifications += 1
            case "queue_interaction":
                queued_at = at
            case "assign_agent":
                segment, segment_hold_ms = (at, d["team"]), 0
            case "start_hold":
                hold_at = at
            case "transfer_interaction":
                transfers += 1
                to_channel = d.get("to_channel") or channel
                if to_channel != channel:
                    f.transportation += 1
                else:
                    f.motion += 1
                channel = to_channel
                queued_at = at
            case "resolve_interaction":
                resolved_by = d["resolved_by"]
                resolved_in_segment = at
                if resolved_by != "agent":
                    f.value_added_s += (at - contact.started_ms) / SECOND
            case "abandon_interaction":
                abandoned = True
            case "end_interaction":
                ended_at = at
    identifications = sum(1 for _, ct, _ in contact.events if ct == "identify_customer")
    f.over_processing += max(0, identifications - 1)
    if transfers:
        transferred.add(contact.interaction_id)
    if resolved_by is not None:
        f.resolved += 1
        f.resolved_by[resolved_by] += 1
        resolved_ids.add(contact.interaction_id)
        if transfers:
            f.defects += 1  # not_first_agent
    if ended_at is None:
        f.still_open += 1
        return
    f.lead_time_s += (ended_at - contact.started_ms) / SECOND
    if ended_at - contact.started_ms > DAY:
        f.inventory += 1
    if resolved_by is None:
        f.defects += 1  # unresolved (abandoned included)
        if abandoned:
            f.abandoned += 1
        else:
            f.unresolved += 1
