"""Alert rules (contract section 5, "Alert rules"): pure — the figures come in, the
alerts whose condition holds and the raise/clear transitions go out.

- ``backlog_aged`` (per channel): open interactions started more than 24 h ago;
  holds when value > threshold (default 0);
- ``queue_wait_p90`` (per channel): p90 of the queue waits that ended in the last 15
  minutes; holds when value > threshold (default 1) × the channel's service-level threshold;
- ``occupancy_high`` (per team): occupancy of the last complete UTC hour; holds when
  value > threshold (default 0.95);
- ``rate_signal`` (per rate): the rate over every channel on the latest complete day;
  holds when that day is a signal on the rate's XmR chart.

A subject without a figure has its condition false. :func:`transitions` compares the
alerts that hold with the active ones: each newly holding one is raised, each active
one that no longer holds (or whose rule was switched off) is cleared — once each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from leancrm_waste.domain.assignments import assignments
from leancrm_waste.domain.signals import xmr_chart

RULES: Final = ("backlog_aged", "queue_wait_p90", "occupancy_high", "rate_signal")
#: thresholds of the configurable rules (``rate_signal`` has none: its limits are computed)
DEFAULT_THRESHOLDS: Final[Mapping[str, float]] = {
    "backlog_aged": 0.0, "queue_wait_p90": 1.0, "occupancy_high": 0.95,
}
#: the daily rates watched by ``rate_signal``, each over every channel
RATES: Final = ("fcr_rate", "failure_demand_rate", "abandonment_rate")
#: a transition's ``summary`` is at most this long (contract section 2.7)
MAX_SUMMARY: Final = 300

Key = tuple[str, str]  # (rule, subject)


def parse_alert_thresholds(text: str) -> dict[str, float | None]:
    """``'backlog_aged=10,occupancy_high=0.9,rate_signal=off'`` over the defaults: rule →
    threshold, None for a rule switched off. ``ValueError`` naming the bad part."""
    out: dict[str, float | None] = {**DEFAULT_THRESHOLDS, "rate_signal": 0.0}
    for part, rule, value in assignments(text):
        if value is None or rule not in RULES:
            raise ValueError(f"alert threshold {part!r}: expected <rule>=<number> or <rule>=off with a "
                             f"rule of {', '.join(RULES)}")
        if value == "off":
            out[rule] = None
            continue
        if rule == "rate_signal":
            raise ValueError(f"alert threshold {part!r}: rate_signal takes no threshold, only 'off'")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"alert threshold {part!r}: {value!r} is not a number") from None
        if not 0 <= number < float("inf"):
            raise ValueError(f"alert threshold {part!r}: the threshold must be a number ≥ 0")
        out[rule] = number
    return out


@dataclass(frozen=True)
class AlertInputs:
    """The figures the rules read (each from the read model, at one instant)."""

    #: channel → open interactions that started more than 24 h ago (absent: none)
    aged_backlog: Mapping[str, int] = field(default_factory=dict)
    #: channel → p90 of the queue waits that ended in the last 15 minutes (absent: none ended)
    queue_wait_p90: Mapping[str, float] = field(default_factory=dict)
    #: team → occupancy of the last complete UTC hour (absent: no staffed time)
    occupancy: Mapping[str, float] = field(default_factory=dict)
    #: rate → its daily series over every channel, up to and including ``latest_day``
    daily_rates: Mapping[str, Sequence[tuple[date, float | None]]] = field(default_factory=dict)
    #: the latest complete day of the business time zone (yesterday there)
    latest_day: date | None = None


@dataclass(frozen=True)
class AlertConfig:
    thresholds: Mapping[str, float | None]  # rule → threshold, None = off
    service_level: Mapping[str, float]  # channel → service-level threshold, seconds


@dataclass(frozen=True)
class Reading:
    """A rule's figure for a subject, the threshold it is held to, and the verdict."""

    rule: str
    subject: str
    value: float
    threshold: float
    holds: bool

    @property
    def key(self) -> Key:
        return (self.rule, self.subject)


@dataclass(frozen=True)
class ActiveAlert:
    rule: str
    subject: str
    value: float
    threshold: float
    raised_at: datetime

    @property
    def key(self) -> Key:
        return (self.rule, self.subject)


def evaluate(inputs: AlertInputs, config: AlertConfig) -> dict[Key, Reading]:
    """Every rule's reading for every subject that has a figure (rules switched off read
    nothing)."""
    th = config.thresholds
    out: list[Reading] = []
    if (t := th.get("backlog_aged")) is not None:
        out += [Reading("backlog_aged", ch, float(n), t, n > t) for ch, n in inputs.aged_backlog.items()]
    if (t := th.get("queue_wait_p90")) is not None:
        for ch, p90 in inputs.queue_wait_p90.items():
            if ch in config.service_level:
                limit = t * config.service_level[ch]
                out.append(Reading("queue_wait_p90", ch, p90, limit, p90 > limit))
    if (t := th.get("occupancy_high")) is not None:
        out += [Reading("occupancy_high", team, o, t, o > t) for team, o in inputs.occupancy.items()]
    if th.get("rate_signal") is not None and inputs.latest_day is not None:
        for rate, series in inputs.daily_rates.items():
            reading = _rate_reading(rate, series, inputs.latest_day)
            if reading is not None:
                out.append(reading)
    return {r.key: r for r in out}


def _rate_reading(rate: str, series: Sequence[tuple[date, float | None]], day: date) -> Reading | None:
    chart = xmr_chart([dv for dv in series if dv[0] <= day], bounds=(0.0, 1.0))
    point = next((p for p in chart.points if p.day == day), None)
    if chart.limits is None or point is None or point.value is None:
        return None
    limit = chart.limits.upper if point.value >= chart.limits.centre else chart.limits.lower
    return Reading("rate_signal", rate, point.value, limit, point.signal)


@dataclass(frozen=True)
class Transitions:
    raised: tuple[Reading, ...] = ()
    #: each cleared alert with the subject's reading now (None: no figure, or the rule is off)
    cleared: tuple[tuple[ActiveAlert, Reading | None], ...] = ()


def transitions(active: Mapping[Key, ActiveAlert], readings: Mapping[Key, Reading]) -> Transitions:
    """What to raise (holds, not active) and to clear (active, no longer holds), in key order."""
    raised = tuple(r for k, r in sorted(readings.items()) if r.holds and k not in active)
    cleared = tuple((a, readings.get(k)) for k, a in sorted(active.items())
                    if k not in readings or not readings[k].holds)
    return Transitions(raised, cleared)


def _figure(rule: str, value: float) -> str:
    if rule == "backlog_aged":
        return f"{value:g}"
    if rule == "queue_wait_p90":
        return f"{value:.0f} s"
    return f"{100 * value:.1f} %"


_WHAT: Final[Mapping[str, str]] = {
    "backlog_aged": "open contacts older than 24 h",
    "queue_wait_p90": "queue wait p90 over the last 15 min",
    "occupancy_high": "occupancy of the last complete hour",
    "rate_signal": "yesterday's value is a signal on its XmR chart",
}


def summary_raised(r: Reading) -> str:
    if r.rule == "rate_signal":
        text = (f"{r.subject}: {_figure(r.rule, r.value)} — {_WHAT[r.rule]} "
                f"(limit {_figure(r.rule, r.threshold)})")
    else:
        text = (f"{r.subject}: {_WHAT[r.rule]} is {_figure(r.rule, r.value)} "
                f"(threshold {_figure(r.rule, r.threshold)})")
    return text[:MAX_SUMMARY]


def summary_cleared(a: ActiveAlert, now: Reading | None) -> str:
    what = _WHAT.get(a.rule, a.rule)
    if now is None:
        text = f"{a.subject}: {what} — no figure any more (nothing to measure, or the rule is off)"
    elif a.rule == "rate_signal":
        text = f"{a.subject}: {_figure(a.rule, now.value)} — within normal variation again"
    else:
        text = (f"{a.subject}: {what} is back to {_figure(a.rule, now.value)} "
                f"(threshold {_figure(a.rule, now.threshold)})")
    return text[:MAX_SUMMARY]
