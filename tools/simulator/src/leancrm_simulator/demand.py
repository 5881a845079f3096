"""When customers get in touch: opening hours, daily peaks, busier weekdays.

Demand peaks at opening (09:00–11:00) and after lunch (13:00–14:00) and is quiet in
the evening; Monday is the busiest day, Sunday the quietest. Phone lines are closed
on Sunday; the digital team (chat, email, social, sms) works a short Sunday shift;
self-service, the community and the bot never close.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .knobs import Knobs
from .model import HOUR, QUEUE_TEAM, REASONS, SPECIALIST_QUEUE

#: Monday .. Sunday
DAY_FACTOR = (1.30, 1.15, 1.05, 1.05, 1.00, 0.45, 0.20)

#: Opening hours [open, close) per weekday (0 = Monday) for phone and the digital team.
PHONE_HOURS: dict[int, tuple[int, int] | None] = {
    0: (8, 20), 1: (8, 20), 2: (8, 20), 3: (8, 20), 4: (8, 20), 5: (9, 17), 6: None,
}
DIGITAL_HOURS: dict[int, tuple[int, int] | None] = {**PHONE_HOURS, 6: (10, 16)}

#: Live channels (phone, chat): peaks at 09–11 and 13–14, quiet evenings.
LIVE_PROFILE = {8: 0.7, 9: 1.7, 10: 1.8, 11: 1.3, 12: 0.9, 13: 1.4, 14: 1.0, 15: 0.9,
                16: 0.8, 17: 0.6, 18: 0.4, 19: 0.3}
#: Always-open channels (email, social, sms, self-service): daytime and evening, little at night.
ALWAYS_PROFILE = {**dict.fromkeys(range(7), 0.12), 7: 0.5, 8: 0.9, 9: 1.3, 10: 1.3, 11: 1.2,
                  12: 1.0, 13: 1.2, 14: 1.0, 15: 1.0, 16: 1.0, 17: 1.0, 18: 1.1, 19: 1.2,
                  20: 1.2, 21: 1.0, 22: 0.6, 23: 0.3}

ASSISTED_MIX = {"phone": 0.55, "chat": 0.20, "email": 0.17, "social": 0.05, "sms": 0.03}
SELF_SERVICE_MIX = {"web_self_service": 0.55, "bot": 0.30, "community": 0.15}

#: Mean agent-segment length in seconds (talk, holds and wrap-up), used for the forecast.
MEAN_SEGMENT_S = {"phone": 430.0, "chat": 660.0, "email": 540.0, "social": 300.0, "sms": 300.0}

#: Self-service: chance of success, and chance a failure falls back to an agent.
SELF_SERVICE_SUCCESS = {"web_self_service": 0.72, "bot": 0.55, "community": 0.6}


def hours_open(channel_or_team: str, weekday: int) -> tuple[int, int] | None:
    """Opening hours of a live channel or a team on a weekday (None: closed all day)."""
    if channel_or_team in ("phone", "billing_team", "tech_support", "retention",
                           "customer_service"):
        return PHONE_HOURS[weekday]
    if channel_or_team in ("chat", "digital"):
        return DIGITAL_HOURS[weekday]
    return (0, 24)


def profile(channel: str, weekday: int) -> dict[int, float]:
    """Relative arrival weight of each hour of the day for a channel."""
    if channel in ("phone", "chat"):
        hours = hours_open(channel, weekday)
        if hours is None:
            return {}
        return {h: w for h, w in LIVE_PROFILE.items() if hours[0] <= h < hours[1]}
    return dict(ALWAYS_PROFILE)


def channel_shares(knobs: Knobs) -> dict[str, float]:
    """Share of new contacts starting in each channel."""
    shares = {c: (1.0 - knobs.self_service) * s for c, s in ASSISTED_MIX.items()}
    shares.update({c: knobs.self_service * s for c, s in SELF_SERVICE_MIX.items()})
    return shares


def expected_per_day(knobs: Knobs, weekday: int) -> float:
    """Expected new contacts on a weekday (all channels)."""
    return knobs.customers * knobs.contact_rate * DAY_FACTOR[weekday] / sum(DAY_FACTOR)


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@dataclass(frozen=True, slots=True)
class Arrival:
    at_ms: int
    channel: str


def arrivals(knobs: Knobs, start_ms: int, rng: random.Random) -> list[Arrival]:
    """New (value-demand) contacts over the whole period, in time order."""
    out: list[Arrival] = []
    shares = channel_shares(knobs)
    for day in range(knobs.days):
        day_ms = start_ms + day * 24 * HOUR
        weekday = (knobs.start.weekday() + day) % 7
        per_day = expected_per_day(knobs, weekday)
        for channel, share in shares.items():
            weights = profile(channel, weekday)
            total = sum(weights.values())
            for hour, weight in weights.items():
                for _ in range(poisson(rng, per_day * share * weight / total)):
                    out.append(Arrival(day_ms + hour * HOUR + rng.randrange(HOUR), channel))
    out.sort(key=lambda a: a.at_ms)
    return out


def forecast_workload(knobs: Knobs, weekday: int) -> dict[str, dict[int, float]]:
    """Forecast agent seconds needed per team and hour of a weekday (what planners roster on).

    Counts the first agent segment of each assisted contact (bot hand-overs and
    self-service fall-backs included), the repeat contacts and the transfers that
    unresolved contacts bring (to the queues they are transferred to), spread over
    the team's opening hours like live demand.
    """
    per_day = expected_per_day(knobs, weekday)
    shares = channel_shares(knobs)
    fcr, transfer, cross = knobs.fcr, knobs.transfer, knobs.cross_channel
    first: dict[tuple[str, str], float] = {}
    phone = per_day * (shares["phone"] + sum(
        shares[c] * (1 - SELF_SERVICE_SUCCESS[c]) * 0.5 for c in SELF_SERVICE_MIX))
    for share, queue in REASONS.values():
        first[(queue, "phone")] = first.get((queue, "phone"), 0.0) + phone * share
    first[("digital", "chat")] = per_day * (
        shares["chat"] + shares["bot"] * (1 - SELF_SERVICE_SUCCESS["bot"]) * 0.6)
    first[("digital", "social")] = per_day * shares["social"]
    first[("digital", "sms")] = per_day * shares["sms"]
    first[("email", "email")] = per_day * shares["email"] * (1.0 - 0.8 * knobs.email_backlog)
    repeats = (1 - fcr) * (1 - transfer) * 0.7 + 0.3 * (1 - fcr)
    per_team: dict[str, float] = {}

    def add(queue: str, channel: str, contacts: float) -> None:
        team = QUEUE_TEAM[queue]
        per_team[team] = per_team.get(team, 0.0) + contacts * MEAN_SEGMENT_S[channel]

    for (queue, channel), contacts in first.items():
        contacts *= 1 + repeats
        add(queue, channel, contacts)
        moved = contacts * (1 - fcr) * transfer
        targets = [q for q in SPECIALIST_QUEUE[queue] if q != queue]
        for target in targets:
            add(target, channel, moved * (1 - cross) / len(targets))
        if channel == "email":
            add(SPECIALIST_QUEUE["email"][0], "phone", moved * cross)
        else:
            add("email", "email", moved * cross)
    work: dict[str, dict[int, float]] = {}
    for team, seconds in per_team.items():
        hours = hours_open(team, weekday)
        if hours is None:
            continue
        weights = {h: w for h, w in LIVE_PROFILE.items() if hours[0] <= h < hours[1]}
        total = sum(weights.values())
        work[team] = {h: seconds * w / total for h, w in weights.items()}
    return work


def agents_for(work_s: float, handle_s: float, service_level: float = 0.8,
               answer_s: float = 60.0) -> int:
    """Agents an hour needs so that ``service_level`` of contacts wait under ``answer_s``
    (Erlang C, the planner's classic), for ``work_s`` seconds of work in the hour."""
    load = work_s / 3600.0
    if load <= 0:
        return 0
    n = max(1, math.ceil(load))
    while True:
        if n > load:
            blocking = 1.0
            for k in range(1, n + 1):
                blocking = load * blocking / (k + load * blocking)
            waiting = n * blocking / (n - load * (1 - blocking))
            if 1 - waiting * math.exp(-(n - load) * answer_s / handle_s) >= service_level:
                return n
        n += 1
