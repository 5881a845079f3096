"""The scenario generator: a seeded, pure simulation of a front office.

``generate(knobs)`` returns every command of the scenario in business-time order:
customers registered first (some later change details or consent, a few ask to
be forgotten); agents rostered in shifts per team; contacts arriving with daily
peaks and flowing through IVR, queues, agents, holds and transfers; customers
pulling value through self-service, the community and the bot (and falling back
to the phone when that fails); repeat contacts about what was not solved; and the
feedback customers give; and, with the knob ``improvements``, three countermeasures
started and ended (improvements.py) that change what follows them. Nothing here does
I/O, and nothing depends on the clock: the same knobs give the very same commands.

Every interaction is simulated from its start to its end before the next contact
(in start order) is handled; agents' calendars make sure no agent is ever
assigned two contacts at once and that work only happens inside their shifts.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import accumulate, count
from typing import Any

from . import improvements, texts
from .demand import (
    ALWAYS_PROFILE,
    DAY_FACTOR,
    SELF_SERVICE_SUCCESS,
    arrivals,
    hours_open,
    poisson,
)
from .knobs import Knobs
from .model import (
    DAY,
    HOUR,
    MINUTE,
    QUEUE_TEAM,
    REASONS,
    SECOND,
    SPECIALIST_QUEUE,
    Emitter,
    SimCommand,
    ms_of,
    stable_uuid,
)
from .staffing import Team, roster, sign_out_ms

REPEAT_WINDOW = 7 * DAY
MAX_REPEAT_DEPTH = 3
#: Mean talk time (s) of an agent segment per channel, before holds.
TALK_S = {"phone": 330.0, "chat": 540.0, "bot": 480.0, "email": 420.0, "sms": 240.0,
          "social": 240.0}
HOLD_CHANCE = {"phone": 0.25, "chat": 0.08, "bot": 0.08}
LIVE = ("phone", "chat", "bot")
FIRST_ID_METHOD = {"phone": "security_questions", "chat": "chat_login", "bot": "chat_login",
                   "email": "email_address", "sms": "phone_number", "social": "social_handle"}
SECOND_LINE_RESOLUTION = 0.85
SEGMENT_WEIGHTS = {"retail": 0.7, "small_business": 0.2, "premium": 0.1}


@dataclass(slots=True)
class Customer:
    index: int
    customer_id: str
    registered_ms: int
    forget_ms: int | None
    weight: float
    history: list[tuple[int, str]] = field(default_factory=list)

    def active(self, at_ms: int) -> bool:
        return (self.registered_ms + 10 * MINUTE <= at_ms
                and (self.forget_ms is None or at_ms < self.forget_ms))


@dataclass(order=True, slots=True)
class Contact:
    """A contact waiting to happen (new demand, a repeat, a fall-back or a call-back)."""

    at_ms: int
    seq: int
    channel: str = field(compare=False)
    customer: Customer | None = field(compare=False, default=None)
    reason: str | None = field(compare=False, default=None)
    kind: str = field(compare=False, default="new")
    depth: int = field(compare=False, default=0)


@dataclass(slots=True)
class Outcome:
    """How an interaction went, as far as what follows it (repeats, feedback) cares."""

    status: str  # resolved | unresolved | abandoned | open
    ended_ms: int | None = None
    transfers: int = 0
    waited_ms: int = 0
    stage: str | None = None
    reached_agent: bool = False
    fall_back: bool = False


@dataclass(slots=True)
class Plan:
    """One agent segment, as offsets from the assignment."""

    steps: list[tuple[int, str, dict[str, Any]]]
    length_ms: int
    outcome: str  # resolved | unresolved | abandoned | transfer
    to_queue: str | None = None
    to_channel: str | None = None


class Interaction:
    """The commands of one interaction, in order; nothing at or after the horizon."""

    def __init__(self, sim: Simulation, customer: Customer, channel: str, reason: str,
                 at_ms: int, direction: str = "inbound") -> None:
        self.sim = sim
        self.id = stable_uuid(sim.namespace, "interaction", next(sim.interaction_numbers))
        self.customer = customer
        self.channel = channel
        self.reason = reason
        self.live = channel in LIVE
        self.t = at_ms
        self.cut = False
        self.identified = False
        self.ended_ms: int | None = None
        self.send(at_ms, "start_interaction", customer_id=customer.customer_id, channel=channel,
                  reason=reason, direction=direction)

    def send(self, at_ms: int, command_type: str, **fields: Any) -> bool:
        if self.cut or at_ms >= self.sim.horizon_ms:
            self.cut = True
            return False
        assert at_ms >= self.t, f"{command_type} would go back in time on {self.id}"
        self.sim.out.emit(at_ms, self.customer.customer_id, command_type,
                          {"interaction_id": self.id, **fields}, self.id)
        self.t = at_ms
        if command_type == "identify_customer":
            self.identified = True
        elif command_type == "end_interaction":
            self.ended_ms = at_ms
        return True

    def finish(self, at_ms: int, status: str, **outcome: Any) -> Outcome:
        self.send(at_ms, "end_interaction")
        if self.ended_ms is None:
            return Outcome("open", **outcome)
        return Outcome(status, self.ended_ms, **outcome)


class Simulation:
    """One scenario, simulated once: ``run()`` returns its commands."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs.validate()
        self.namespace = knobs.namespace()
        self.start_ms = ms_of(datetime.combine(knobs.start, time(0), UTC))
        self.horizon_ms = self.start_ms + knobs.days * DAY
        self.out = Emitter(self.namespace)
        self.rng_people = self._rng("people")
        self.rng_flow = self._rng("flow")
        self.rng_feedback = self._rng("feedback")
        self.interaction_numbers = count()
        self.feedback_numbers = count()
        self.contact_numbers = count()
        self.teams: dict[str, Team] = roster(knobs, self.start_ms, self.namespace,
                                             self._rng("roster"))
        self.customers: list[Customer] = []
        self.cum_weights: list[float] = []
        self.pending: list[Contact] = []
        self.countermeasures = improvements.plan(knobs.days) if knobs.improvements else ()

    def _rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.knobs.seed}:{purpose}")

    # -- the whole run -------------------------------------------------------------

    def run(self) -> list[SimCommand]:
        self._register_customers()
        for arrival in arrivals(self.knobs, self.start_ms, self._rng("demand")):
            self._push(Contact(arrival.at_ms, 0, arrival.channel))
        while self.pending:
            self._handle(heapq.heappop(self.pending))
        self._spontaneous_feedback()
        self._agent_shifts()
        self._improvement_commands()
        return self.out.in_time_order()

    def _push(self, contact: Contact) -> None:
        if contact.at_ms < self.horizon_ms:
            contact.seq = next(self.contact_numbers)
            heapq.heappush(self.pending, contact)

    # -- customers -----------------------------------------------------------------

    def _register_customers(self) -> None:
        k, rng = self.knobs, self.rng_people
        initial = max(1, round(k.customers * 0.9))
        forgetting = set(rng.sample(range(k.customers), round(k.customers * 0.01)))
        for i in range(k.customers):
            if i < initial:
                registered = self.start_ms + 5 * MINUTE + i * 50 * MINUTE // initial
            else:
                registered = (self.start_ms + rng.randrange(k.days) * DAY
                              + rng.randrange(7 * HOUR, 22 * HOUR))
            forget = None
            if i in forgetting:
                span = self.horizon_ms - registered
                forget = registered + HOUR + int((span - 2 * HOUR) * rng.uniform(0.5, 0.95))
            customer = Customer(i, stable_uuid(self.namespace, "customer", i), registered, forget,
                                rng.paretovariate(2.5))
            self.customers.append(customer)
            name, email, phone = texts.person(rng, i)
            segment = rng.choices(list(SEGMENT_WEIGHTS), list(SEGMENT_WEIGHTS.values()))[0]
            self._customer_command(registered, customer, "register_customer", name=name,
                                   email=email, phone=phone, segment=segment)
            self._customer_changes(customer, rng)
        self.cum_weights = list(accumulate(c.weight for c in self.customers))

    def _customer_changes(self, customer: Customer, rng: random.Random) -> None:
        last = customer.forget_ms if customer.forget_ms is not None else self.horizon_ms
        changes: list[tuple[int, str, dict[str, Any]]] = []
        if last - customer.registered_ms < 2 * HOUR:
            return
        first, last = customer.registered_ms + 30 * MINUTE, last - 30 * MINUTE
        if rng.random() < 0.08:
            what = rng.choice(("email", "phone", "segment", "name"))
            fields: dict[str, Any] = dict.fromkeys(("name", "email", "phone", "segment"))
            if what == "email":
                fields["email"] = f"customer.{customer.index}.{rng.randrange(1000)}@example.net"
            elif what == "phone":
                fields["phone"] = f"+316{rng.randrange(10**8):08d}"
            elif what == "segment":
                fields["segment"] = rng.choice(("small_business", "premium"))
            else:
                fields["name"] = texts.person(rng, customer.index)[0]
            changes.append((rng.randrange(first, last), "change_customer_details", fields))
        if rng.random() < 0.15:
            changes.append((rng.randrange(first, last), "change_consent", {
                "channel": rng.choice(("email", "sms", "phone")), "granted": rng.random() < 0.3}))
        for at, command_type, fields in sorted(changes, key=lambda c: c[0]):
            self._customer_command(at, customer, command_type, **fields)
        if customer.forget_ms is not None:
            self._customer_command(customer.forget_ms, customer, "forget_customer")

    def _customer_command(self, at_ms: int, customer: Customer, command_type: str,
                          **fields: Any) -> None:
        self.out.emit(at_ms, customer.customer_id, command_type,
                      {"customer_id": customer.customer_id, **fields}, None)

    def _pick_customer(self, at_ms: int, rng: random.Random,
                       exclude: Customer | None = None) -> Customer | None:
        for _ in range(20):
            customer = rng.choices(self.customers, cum_weights=self.cum_weights)[0]
            if customer.active(at_ms) and customer is not exclude:
                return customer
        return None

    # -- contacts ------------------------------------------------------------------

    def _pick_reason(self, customer: Customer, at_ms: int) -> str:
        """New demand is about something new: avoid this customer's reasons of the last week."""
        recent = {r for t, r in customer.history if at_ms - t <= REPEAT_WINDOW}
        reason = ""
        for _ in range(8):
            reason = self.rng_flow.choices(list(REASONS), [s for s, _ in REASONS.values()])[0]
            if reason not in recent:
                break
        return reason

    def _when_open(self, channel: str, at_ms: int) -> int:
        """``at_ms`` if the channel is open then, else a moment in its next opening hours."""
        if channel not in ("phone", "chat"):
            return at_ms
        for _ in range(9):
            day = (at_ms - self.start_ms) // DAY
            day_ms = self.start_ms + day * DAY
            hours = hours_open(channel, (self.knobs.start.weekday() + day) % 7)
            if hours is not None:
                opens, closes = day_ms + hours[0] * HOUR, day_ms + hours[1] * HOUR - 15 * MINUTE
                if opens <= at_ms < closes:
                    return at_ms
                if at_ms < opens:
                    return opens + self.rng_flow.randrange(0, min(3 * HOUR, closes - opens))
            at_ms = day_ms + DAY
        return at_ms

    def _handle(self, contact: Contact) -> None:
        rng = self.rng_flow
        customer = contact.customer or self._pick_customer(contact.at_ms, rng)
        if customer is None:
            return
        reason = contact.reason or self._pick_reason(customer, contact.at_ms)
        at = self._when_open(contact.channel, contact.at_ms)
        if at >= self.horizon_ms or not customer.active(at):
            return
        customer.history.append((at, reason))
        if contact.kind == "callback":
            conv, outcome = self._callback(customer, reason, at)
        else:
            flow = {"phone": self._phone, "chat": self._chat, "email": self._email,
                    "sms": self._message, "social": self._message, "web_self_service": self._web,
                    "community": self._community, "bot": self._bot}[contact.channel]
            conv = Interaction(self, customer, contact.channel, reason, at)
            outcome = flow(conv)
        if conv is None:
            return
        self._feedback_after(conv, outcome, contact)
        self._follow_up(conv, outcome, contact)

    def _follow_up(self, conv: Interaction, outcome: Outcome, contact: Contact) -> None:
        """Failure demand: what was not solved comes back (or we call the customer back)."""
        if outcome.ended_ms is None or contact.depth >= MAX_REPEAT_DEPTH:
            return
        rng, end = self.rng_flow, outcome.ended_ms
        base = Contact(0, 0, "phone", conv.customer, conv.reason, "repeat", contact.depth + 1)
        if outcome.fall_back:
            if rng.random() < 0.6:
                base.at_ms = end + rng.randrange(2 * MINUTE, 30 * MINUTE)
                base.channel = rng.choice(("phone", "phone", "phone", "email"))
                base.kind = "fallback"
                self._push(base)
            return
        channel = conv.channel if conv.channel in ("phone", "chat", "email") else "phone"
        if outcome.status == "abandoned" and rng.random() < 0.65:
            base.at_ms, base.channel = end + rng.randrange(10 * MINUTE, 4 * HOUR), channel
        elif (outcome.status == "unresolved" and conv.reason == "cancellation"
              and rng.random() < 0.5):
            base.at_ms, base.kind = end + rng.randrange(2 * HOUR, 30 * HOUR), "callback"
        elif outcome.status == "unresolved" and rng.random() < 0.7:
            base.at_ms = end + int(HOUR * math.exp(rng.uniform(0.0, math.log(96))))
            base.channel = channel if rng.random() < 0.6 else "phone"
        elif outcome.status == "resolved" and rng.random() < 0.3 * (1.0 - self.knobs.fcr):
            base.at_ms = end + rng.randrange(DAY, 5 * DAY)
            base.channel = channel
        else:
            return
        self._push(base)

    # -- improvements --------------------------------------------------------------

    def _lever(self, conv: Interaction | None, lever: str) -> float:
        """The factor the countermeasures in force put on ``lever`` for this contact now
        (1.0: none in force)."""
        factor = 1.0
        if conv is not None:
            for c in self.countermeasures:
                if c.lever == lever and c.in_force(conv.reason, conv.channel, conv.t, self.start_ms):
                    factor *= c.factor
        return factor

    def _improvement_commands(self) -> None:
        for c in self.countermeasures:
            improvement_id = stable_uuid(self.namespace, "improvement", c.key)
            starts_on = self.knobs.start + timedelta(days=c.starts_day)
            at = self.start_ms + c.starts_day * DAY + improvements.START_AT
            if at >= self.horizon_ms:
                continue
            self.out.emit(at, improvement_id, "start_improvement",
                          c.start_data(improvement_id, starts_on.isoformat()), improvement_id)
            if c.end is not None:
                day, outcome, note = c.end
                at = self.start_ms + day * DAY + improvements.END_AT
                if at < self.horizon_ms:
                    self.out.emit(at, improvement_id, "end_improvement",
                                  {"improvement_id": improvement_id, "outcome": outcome,
                                   "note": note}, improvement_id)

    # -- channels ------------------------------------------------------------------

    def _phone(self, conv: Interaction) -> Outcome:
        rng = self.rng_flow
        t = conv.t + rng.randrange(15, 60) * SECOND
        if rng.random() < 0.03:
            conv.send(t, "abandon_interaction", stage="ivr")
            return conv.finish(t + SECOND, "abandoned", stage="ivr")
        conv.send(t, "identify_customer", step="ivr",
                  method=rng.choice(("account_number", "phone_number", "date_of_birth")))
        queue = REASONS[conv.reason][1]
        conv.send(t + rng.randrange(3, 12) * SECOND, "queue_interaction", queue=queue)
        return self._serve(conv, queue)

    def _chat(self, conv: Interaction) -> Outcome:
        rng = self.rng_flow
        t = conv.t + rng.randrange(10, 30) * SECOND
        if rng.random() < 0.7:
            conv.send(t, "identify_customer", step="bot", method="chat_login")
        conv.send(t + rng.randrange(5, 20) * SECOND, "queue_interaction", queue="digital")
        return self._serve(conv, "digital")

    def _message(self, conv: Interaction) -> Outcome:
        conv.send(conv.t + self.rng_flow.randrange(1, 30) * SECOND, "queue_interaction",
                  queue="digital")
        return self._serve(conv, "digital")

    def _email(self, conv: Interaction) -> Outcome:
        conv.send(conv.t + self.rng_flow.randrange(1, 60) * SECOND, "queue_interaction",
                  queue="email")
        return self._serve(conv, "email")

    def _web(self, conv: Interaction) -> Outcome:
        rng = self.rng_flow
        t = conv.t + rng.randrange(5, 30) * SECOND
        if rng.random() < 0.6:
            conv.send(t, "identify_customer", step="self_service", method="login")
        t += rng.randrange(1 * MINUTE, 10 * MINUTE)
        success = rng.random() < SELF_SERVICE_SUCCESS["web_self_service"]
        return self._self_service_end(conv, t, success, "self_service")

    def _community(self, conv: Interaction) -> Outcome:
        rng = self.rng_flow
        t = conv.t + rng.randrange(5, 60) * SECOND
        if rng.random() < 0.8:
            conv.send(t, "identify_customer", step="self_service", method="login")
        if rng.random() < SELF_SERVICE_SUCCESS["community"]:  # another customer answers
            return self._self_service_end(conv, t + rng.randrange(20 * MINUTE, 10 * HOUR),
                                          True, "community")
        return self._self_service_end(conv, t + rng.randrange(6 * HOUR, 30 * HOUR), False,
                                      "community")

    def _bot(self, conv: Interaction) -> Outcome:
        rng = self.rng_flow
        t = conv.t + rng.randrange(5, 20) * SECOND
        if rng.random() < 0.6:
            conv.send(t, "identify_customer", step="bot", method="chat_login")
        t += rng.randrange(1 * MINUTE, 4 * MINUTE)
        success = rng.random() < SELF_SERVICE_SUCCESS["bot"]
        if not success and self._when_open("chat", t) == t and rng.random() < 0.6:
            # the bot hands over to a person (when the digital team is in): the chat queue
            conv.send(t, "queue_interaction", queue="digital")
            return self._serve(conv, "digital")
        return self._self_service_end(conv, t, success, "bot")

    def _self_service_end(self, conv: Interaction, t: int, success: bool,
                          resolved_by: str) -> Outcome:
        """The customer found the answer (resolved) or gave up (and may call instead)."""
        if success:
            conv.send(t, "resolve_interaction", resolved_by=resolved_by)
            return conv.finish(t + self.rng_flow.randrange(1, 120) * SECOND, "resolved")
        conv.send(t, "abandon_interaction", stage="self_service")
        return conv.finish(t + SECOND, "abandoned", stage="self_service", fall_back=True)

    def _callback(self, customer: Customer, reason: str,
                  at_ms: int) -> tuple[Interaction | None, Outcome]:
        """Retention calls a customer who wanted to cancel (outbound, no queue)."""
        rng = self.rng_flow
        plan = self._plan(None, "phone", "retention", first=True, identified=False,
                          resolve_chance=0.5, may_transfer=False)
        found = self.teams["retention"].find(at_ms, plan.length_ms, at_ms + 8 * HOUR)
        if found is None:
            return None, Outcome("open")
        agent, s = found
        conv = Interaction(self, customer, "phone", reason, s - rng.randrange(10, 40) * SECOND,
                           direction="outbound")
        agent.book(s, s + plan.length_ms)
        return conv, self._run_plan(conv, agent.agent_id, agent.team, s, plan, 0, 0)

    # -- agents at work ------------------------------------------------------------

    def _patience_ms(self, channel: str) -> int:
        mean = {"phone": 4 * MINUTE, "bot": 6 * MINUTE, "chat": 8 * MINUTE}[channel]
        return max(20 * SECOND, int(self.rng_flow.expovariate(1.0 / mean)))

    def _serve(self, conv: Interaction, queue: str) -> Outcome:
        """Queued → an agent → (identify again, hold) → resolved, transferred or not; repeat."""
        rng, k = self.rng_flow, self.knobs
        transfers, waited = 0, 0
        while not conv.cut:
            patience = self._patience_ms(conv.channel) if conv.live else None
            earliest = conv.t + rng.randrange(1, 4) * SECOND
            if queue == "email" and rng.random() < k.email_backlog:
                earliest = conv.t + rng.randrange(24 * HOUR, 60 * HOUR)
            plan = self._plan(conv, conv.channel, queue, first=transfers == 0,
                              identified=conv.identified, resolve_chance=None,
                              may_transfer=transfers < 2)
            team = self.teams[QUEUE_TEAM[queue]]
            not_after = conv.t + patience if patience is not None else self.horizon_ms - 1
            found = team.find(earliest, plan.length_ms, not_after)
            if found is None:
                if patience is None:
                    return Outcome("open", transfers=transfers, waited_ms=waited)
                at = conv.t + patience
                conv.send(at, "abandon_interaction", stage="queue")
                return conv.finish(at + rng.randrange(1, 5) * SECOND, "abandoned", stage="queue",
                                   transfers=transfers, waited_ms=waited + patience,
                                   reached_agent=transfers > 0)
            agent, s = found
            agent.book(s, s + plan.length_ms)
            waited += s - conv.t
            outcome = self._run_plan(conv, agent.agent_id, agent.team, s, plan, transfers, waited)
            if plan.outcome != "transfer" or conv.cut:
                return outcome
            transfers += 1
            assert plan.to_queue is not None and plan.to_channel is not None
            queue = plan.to_queue
            if plan.to_channel != conv.channel:
                conv.channel, conv.live = plan.to_channel, False
        return Outcome("open", transfers=transfers, waited_ms=waited)

    def _run_plan(self, conv: Interaction, agent_id: str, team: str, s: int, plan: Plan,
                  transfers: int, waited: int) -> Outcome:
        conv.send(s, "assign_agent", agent_id=agent_id, team=team)
        for offset, command_type, fields in plan.steps:
            conv.send(s + offset, command_type, **fields)
        common: dict[str, Any] = {"transfers": transfers, "waited_ms": waited,
                                  "reached_agent": True}
        if plan.outcome == "transfer":
            return Outcome("open", **common)
        if conv.ended_ms is None:
            return Outcome("open", **common)
        if plan.outcome == "resolved":
            return Outcome("resolved", conv.ended_ms, **common)
        return Outcome(plan.outcome, conv.ended_ms,
                       stage="hold" if plan.outcome == "abandoned" else None, **common)

    def _plan(self, conv: Interaction | None, channel: str, queue: str, *, first: bool,
              identified: bool, resolve_chance: float | None, may_transfer: bool) -> Plan:
        """What happens once an agent picks the contact up (times from the assignment)."""
        rng, k = self.rng_flow, self.knobs
        steps: list[tuple[int, str, dict[str, Any]]] = []
        t = rng.randrange(4, 15) * SECOND
        if identified:
            # "and your account number, please?" — again
            if rng.random() < k.reidentify * self._lever(conv, "reidentify"):
                steps.append((t, "identify_customer",
                              {"step": "agent", "method": "security_questions"}))
                t += rng.randrange(20, 60) * SECOND
        else:
            steps.append((t, "identify_customer",
                          {"step": "agent", "method": FIRST_ID_METHOD[channel]}))
            t += rng.randrange(15, 40) * SECOND
        sigma = 0.5
        mean = TALK_S.get(channel, 300.0)
        talk = min(45 * 60.0, rng.lognormvariate(math.log(mean) - sigma**2 / 2, sigma))
        talk_ms = int(talk * SECOND)
        if rng.random() < HOLD_CHANCE.get(channel, 0.0):
            hold_at = t + int(talk_ms * rng.uniform(0.3, 0.6))
            hold_ms = rng.randrange(30 * SECOND, 5 * MINUTE)
            steps.append((hold_at, "start_hold", {}))
            if rng.random() < 0.04:  # the customer gives up on hold
                gone = hold_at + rng.randrange(10 * SECOND, hold_ms)
                steps.append((gone, "abandon_interaction", {"stage": "hold"}))
                steps.append((gone + SECOND, "end_interaction", {}))
                return Plan(steps, gone + SECOND, "abandoned")
            steps.append((hold_at + hold_ms, "end_hold", {}))
            t += hold_ms
        t += talk_ms
        chance = resolve_chance if resolve_chance is not None else (
            1 - (1 - k.fcr) * self._lever(conv, "first_resolution") if first
            else SECOND_LINE_RESOLUTION)
        if rng.random() < chance:
            steps.append((t, "resolve_interaction", {"resolved_by": "agent"}))
            wrap = rng.randrange(5, 45) * SECOND
            steps.append((t + wrap, "end_interaction", {}))
            return Plan(steps, t + wrap, "resolved")
        if may_transfer and rng.random() < k.transfer:
            if rng.random() < k.cross_channel:  # transportation: e.g. "please email us that"
                to_channel = "email" if channel != "email" else "phone"
                to_queue = ("email" if to_channel == "email"
                            else rng.choice(SPECIALIST_QUEUE["email"]))
                why = "send_documents" if to_channel == "email" else "call_back"
            else:  # motion: another queue, another agent, same channel
                to_channel = channel
                to_queue = rng.choice([q for q in SPECIALIST_QUEUE[queue] if q != queue])
                why = rng.choice(("needs_specialist", "wrong_queue"))
            steps.append((t, "transfer_interaction",
                          {"to_queue": to_queue, "to_channel": to_channel, "reason": why}))
            return Plan(steps, t, "transfer", to_queue, to_channel)
        steps.append((t, "end_interaction", {}))
        return Plan(steps, t, "unresolved")

    def _agent_shifts(self) -> None:
        rng = self._rng("shifts")
        for team in self.teams.values():
            for agent in team.agents:
                for shift in agent.shifts:
                    day = datetime.fromtimestamp(shift.day_start_ms / 1000, UTC).date().isoformat()
                    correlation = f"shift-{agent.agent_id}-{day}"
                    self.out.emit(shift.sign_in_ms, agent.agent_id, "sign_in_agent",
                                  {"agent_id": agent.agent_id, "team": agent.team}, correlation)
                    self.out.emit(sign_out_ms(shift, rng), agent.agent_id, "sign_out_agent",
                                  {"agent_id": agent.agent_id}, correlation)

    # -- feedback ------------------------------------------------------------------

    def _submit(self, at_ms: int, customer: Customer | None, source: str, text: str,
                rating: int | None = None, interaction_id: str | None = None,
                topic: str | None = None) -> tuple[str, str] | None:
        """Send submit_feedback; return (feedback_id, key), or None if it falls outside."""
        if at_ms >= self.horizon_ms or (customer is not None and not customer.active(at_ms)):
            return None
        feedback_id = stable_uuid(self.namespace, "feedback", next(self.feedback_numbers))
        key = customer.customer_id if customer is not None else feedback_id
        self.out.emit(at_ms, key, "submit_feedback", {
            "feedback_id": feedback_id,
            "customer_id": customer.customer_id if customer is not None else None,
            "source": source, "text": text, "rating": rating,
            "interaction_id": interaction_id, "topic": topic,
        }, interaction_id or feedback_id)
        return feedback_id, key

    def _feedback_after(self, conv: Interaction, outcome: Outcome, contact: Contact) -> None:
        """Surveys after contacts with an agent, and complaints about the bad ones."""
        if outcome.ended_ms is None:
            return
        rng, rate = self.rng_feedback, self.knobs.feedback_rate
        reason = conv.reason.replace("_", " ")
        if outcome.reached_agent and rng.random() < rate * 0.6:
            if outcome.status == "resolved" and outcome.transfers == 0:
                mood, rating = "great", rng.randint(7, 10)
            elif outcome.status == "resolved":
                mood, rating = "mixed", rng.randint(4, 7)
            else:
                mood, rating = "poor", rng.randint(0, 3)
            text = rng.choice(texts.SURVEY_TEXT[mood]).format(reason=reason)
            self._submit(outcome.ended_ms + rng.randrange(10 * MINUTE, 3 * HOUR), conv.customer,
                         "survey", text, rating=rating, interaction_id=conv.id, topic="service")
        bad = (outcome.status in ("unresolved", "abandoned") or outcome.transfers > 0
               or outcome.waited_ms > 10 * MINUTE)
        if bad and outcome.stage != "self_service" and rng.random() < rate * 0.5:
            if outcome.stage == "queue" or outcome.waited_ms > 10 * MINUTE:
                kind = "waiting_time"
            elif contact.kind == "repeat":
                kind = "repeat_contact"
            else:
                kind = {"billing": "billing_error", "order_status": "delivery",
                        "price_offer": "price"}.get(conv.reason, "staff")
            text = texts.COMPLAINT_TEXT[kind].format(reason=reason)
            self._submit(outcome.ended_ms + rng.randrange(30 * MINUTE, 24 * HOUR), conv.customer,
                         "complaint", text, interaction_id=conv.id, topic=kind)

    def _spontaneous_feedback(self) -> None:
        """Tweets, reviews, ideas (with votes), community posts and complaints, some anonymous."""
        k, rng = self.knobs, self.rng_feedback
        mix = {"tweet": 0.3, "review": 0.15, "idea": 0.2, "complaint": 0.15,
               "community_post": 0.2}
        anonymous = {"tweet": 0.4, "review": 0.25, "community_post": 0.3, "complaint": 0.1,
                     "idea": 0.1}
        hours, weights = list(ALWAYS_PROFILE), list(ALWAYS_PROFILE.values())
        for day in range(k.days):
            weekday = (k.start.weekday() + day) % 7
            lam = k.customers * k.feedback_rate * 0.5 * DAY_FACTOR[weekday] / sum(DAY_FACTOR)
            for _ in range(poisson(rng, lam)):
                at = (self.start_ms + day * DAY + rng.choices(hours, weights)[0] * HOUR
                      + rng.randrange(HOUR))
                source = rng.choices(list(mix), list(mix.values()))[0]
                customer = (None if rng.random() < anonymous[source]
                            else self._pick_customer(at, rng))
                self._one_spontaneous(at, source, customer, rng)

    def _one_spontaneous(self, at: int, source: str, customer: Customer | None,
                         rng: random.Random) -> None:
        positive = rng.random() < 0.45
        if source == "tweet":
            topic = rng.choices(list(texts.TWEET_TEXT), [0.25, 0.2, 0.2, 0.2, 0.15])[0]
            text = texts.TWEET_TEXT[topic][0 if positive else 1]
            self._submit(at, customer, "tweet", text, topic=topic)
        elif source == "review":
            topic = rng.choice(list(texts.REVIEW_TEXT))
            text = texts.REVIEW_TEXT[topic][0 if positive else 1]
            rating = rng.randint(7, 10) if positive else rng.randint(0, 4)
            self._submit(at, customer, "review", text, rating=rating, topic=topic)
        elif source == "complaint":
            topic = rng.choice(list(texts.COMPLAINT_TEXT))
            text = texts.COMPLAINT_TEXT[topic].format(reason="my account")
            self._submit(at, customer, "complaint", text, topic=topic)
        elif source == "community_post":
            topic = rng.choice(list(texts.COMMUNITY_TEXT))
            text = texts.COMMUNITY_TEXT[topic][0 if positive else 1]
            self._submit(at, customer, "community_post", text, topic=topic)
        else:
            topic = rng.choice(list(texts.IDEA_TEXT))
            submitted = self._submit(at, customer, "idea", texts.IDEA_TEXT[topic], topic=topic)
            if submitted is not None:
                self._votes(at, submitted, customer, rng)

    def _votes(self, at: int, idea: tuple[str, str], author: Customer | None,
               rng: random.Random) -> None:
        """Other customers vote on an idea; some change their mind later (the vote replaces)."""
        feedback_id, key = idea
        voters: set[int] = set()
        for _ in range(poisson(rng, 2.0 + 16.0 * self.knobs.feedback_rate)):
            span = self.horizon_ms - at - 10 * MINUTE
            if span <= MINUTE:
                return
            vote_at = at + 10 * MINUTE + int(span * rng.random() ** 2)
            voter = self._pick_customer(vote_at, rng, exclude=author)
            if voter is None or voter.index in voters:
                continue
            voters.add(voter.index)
            vote = 1 if rng.random() < 0.8 else -1
            self._vote(vote_at, feedback_id, key, voter, vote)
            if rng.random() < 0.2:
                later = vote_at + int((self.horizon_ms - vote_at) * rng.random())
                if later > vote_at and voter.active(later):
                    self._vote(later, feedback_id, key, voter, -vote)

    def _vote(self, at: int, feedback_id: str, key: str, voter: Customer, vote: int) -> None:
        # Keyed like the idea itself, so every command of the idea's stream shares a partition.
        self.out.emit(at, key, "vote_idea", {"feedback_id": feedback_id,
                                             "voter_customer_id": voter.customer_id,
                                             "vote": vote}, feedback_id)


def generate(knobs: Knobs | None = None) -> list[SimCommand]:
    """Every command of the scenario, in business-time order (ties in generation order)."""
    return Simulation(knobs or Knobs()).run()


def iter_commands(knobs: Knobs | None = None) -> Iterator[SimCommand]:
    yield from generate(knobs)
