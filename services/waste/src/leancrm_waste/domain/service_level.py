"""Service level and speed of answer per channel and UTC hour (contract section 5,
"Service level, demand and lead times"): the reference ``waste.service_level_hourly``
is tested against.

Over the interactions started in an hour on a channel, against the channel's threshold
(seconds; :data:`DEFAULT_THRESHOLDS`, configurable):

- answered = reached an agent; speed of answer = queue_wait_s (the whole figure);
- answered_within_threshold = answered with queue_wait_s ≤ threshold;
- abandoned_after_threshold = not answered, no longer open (abandoned, unresolved, or
  resolved without an agent) and queue_wait_s > threshold — these count against;
- not answered within the threshold (short abandons, never queued) and open unanswered
  interactions are left out;
- offered = answered + abandoned_after_threshold;
- service_level = answered_within_threshold / offered (None when offered is 0 or the
  channel has no threshold);
- avg / p90 speed of answer over the answered (None when none was answered).

Percentiles are PostgreSQL's ``percentile_cont``: :func:`percentile_cont`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from math import floor, fsum
from typing import Final

from leancrm_waste.domain.assignments import assignments
from leancrm_waste.domain.capacity import hour_of
from leancrm_waste.domain.repeats import InteractionRecord

#: seconds within which a contact should be answered, per channel (contract section 5);
#: the self-service channels have none
DEFAULT_THRESHOLDS: Final[Mapping[str, float]] = {
    "phone": 20.0, "chat": 60.0, "email": 86400.0, "sms": 3600.0, "social": 3600.0,
}
#: the channels a threshold may be set for (contract section 3)
CHANNELS: Final = ("phone", "chat", "email", "sms", "social", "web_self_service", "community", "bot")
#: the longest threshold accepted: a year
MAX_THRESHOLD_S: Final = 366 * 86400.0


def parse_thresholds(text: str, defaults: Mapping[str, float] = DEFAULT_THRESHOLDS) -> dict[str, float]:
    """``'phone=30,chat=120'`` over ``defaults``; ``channel=off`` removes a channel's
    threshold. ``ValueError`` naming the bad part for anything else."""
    out = dict(defaults)
    for part, channel, value in assignments(text):
        if value is None or channel not in CHANNELS:
            raise ValueError(f"service-level threshold {part!r}: expected <channel>=<seconds> with a "
                             f"channel of {', '.join(CHANNELS)}")
        if value == "off":
            out.pop(channel, None)
            continue
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"service-level threshold {part!r}: {value!r} is not a number of seconds"
                             ) from None
        if not 0 <= seconds <= MAX_THRESHOLD_S:  # also refuses nan
            raise ValueError(f"service-level threshold {part!r}: seconds must lie in 0..{MAX_THRESHOLD_S:g}")
        out[channel] = seconds
    return out


def percentile_cont(values: Sequence[float], p: float) -> float | None:
    """PostgreSQL's ``percentile_cont(p)``: position h = p·(n − 1) of the values in
    ascending order, interpolated linearly between its neighbours; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    h = p * (len(xs) - 1)
    lo = floor(h)
    if lo + 1 >= len(xs):
        return xs[lo]
    return xs[lo] + (xs[lo + 1] - xs[lo]) * (h - lo)


@dataclass(frozen=True)
class ServiceLevel:
    threshold_s: float | None
    contacts: int
    offered: int
    answered: int
    answered_within_threshold: int | None
    abandoned_after_threshold: int | None
    service_level: float | None
    avg_speed_of_answer_s: float | None
    p90_speed_of_answer_s: float | None


def service_level(records: Iterable[InteractionRecord], threshold_s: float | None) -> ServiceLevel:
    """The figures over ``records`` (one per interaction) against ``threshold_s``."""
    fs = list({r.figures.interaction_id: r.figures for r in records}.values())
    waits = [f.queue_wait_s for f in fs if f.reached_agent]
    answered = len(waits)
    if threshold_s is None:
        within = late = None
        offered = answered
        level = None
    else:
        within = sum(w <= threshold_s for w in waits)
        late = sum(1 for f in fs if not f.reached_agent and f.status != "open"
                   and f.queue_wait_s > threshold_s)
        offered = answered + late
        level = None if offered == 0 else within / offered
    return ServiceLevel(
        threshold_s=threshold_s, contacts=len(fs), offered=offered, answered=answered,
        answered_within_threshold=within, abandoned_after_threshold=late, service_level=level,
        avg_speed_of_answer_s=fsum(waits) / answered if waits else None,
        p90_speed_of_answer_s=percentile_cont(waits, 0.9))


HourChannel = tuple[datetime, str | None]


def service_level_hourly(records: Iterable[InteractionRecord], thresholds: Mapping[str, float]
                         ) -> dict[HourChannel, ServiceLevel]:
    """(UTC hour of start, channel) → :func:`service_level` over the interactions
    started then (those whose start is unknown belong to no hour)."""
    groups: dict[HourChannel, list[InteractionRecord]] = defaultdict(list)
    for r in {r.figures.interaction_id: r for r in records}.values():
        if r.figures.started_at is not None:
            groups[(hour_of(r.figures.started_at), r.figures.channel)].append(r)
    return {k: service_level(rs, thresholds.get(k[1] or "")) for k, rs in groups.items()}
