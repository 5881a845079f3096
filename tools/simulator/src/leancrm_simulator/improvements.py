"""Three countermeasures the simulated front office tries (knob ``improvements``): one
that works, one whose gain fades, one that does nothing — sent to the improvements
service (``start_improvement``, ``end_improvement``) and acted out by the scenario.

The period is split in two: the first half is the baseline, and all three start on its
middle day (``start + days // 2``). While one is in force, it changes how the agents of
its scope work (``Simulation._lever``, on contacts picked up from its start on):

- **works** — billing agents see the IVR's identification on their screen: they ask a
  billing caller to identify again a tenth as often (over-processing per contact falls);
  for good; adopted half way through the rest of the period;
- **fades** — technical support is briefed to stop asking callers to identify again:
  it works as well, but only for the first third of the rest of the period (the old
  habit comes back); adopted when that third ends, while it still looked good;
- **nothing** — new hold music on the phone lines, meant to cut abandonment: no change
  in behaviour; still running at the end.

The judgement needs a baseline of at least six days with data before the start and a
few days after (contract section 6): ``scripts/run`` drives four weeks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import DAY, HOUR


@dataclass(frozen=True, slots=True)
class Countermeasure:
    key: str
    title: str
    target: str
    scope: dict[str, str | None]
    owner_team: str
    direction: str
    size: float
    note: str
    #: what it changes (``reidentify``: the chance an agent asks again; ``first_resolution``:
    #: the chance a first agent does not resolve) and the factor it multiplies it by
    lever: str
    factor: float
    #: day offsets from the scenario's start
    starts_day: int
    #: days it changes behaviour (0: never; None: for good)
    effect_days: int | None
    #: (day offset, outcome, note) of its end_improvement, or None while running
    end: tuple[int, str, str] | None

    def start_data(self, improvement_id: str, start_day: str) -> dict[str, Any]:
        return {"improvement_id": improvement_id, "title": self.title, "target": self.target,
                "scope": dict(self.scope), "starts_on": start_day, "owner_team": self.owner_team,
                "expected": {"direction": self.direction, "size": self.size}, "note": self.note}

    def in_force(self, reason: str, channel: str, at_ms: int, start_ms: int) -> bool:
        """Whether it changes how a contact of ``reason`` on ``channel`` picked up at
        ``at_ms`` is worked."""
        if self.effect_days == 0:
            return False
        if any(v is not None and v != {"reason": reason, "channel": channel}.get(k)
               for k, v in self.scope.items() if k in ("reason", "channel")):
            return False
        begins = start_ms + self.starts_day * DAY
        if at_ms < begins:
            return False
        return self.effect_days is None or at_ms < begins + self.effect_days * DAY


def plan(days: int) -> tuple[Countermeasure, ...]:
    """The three countermeasures of a period of ``days`` days."""
    starts = days // 2
    rest = days - starts
    fade = max(1, rest // 3 + 1)
    return (
        Countermeasure(
            "works", "Billing agents see the IVR identification on screen",
            "over_processing_per_contact", {"channel": "phone", "reason": "billing", "team": None},
            "billing_team", "decrease", 0.4,
            "Callers identified in the IVR are asked again by the agent.", "reidentify", 0.1,
            starts, None,
            (starts + max(1, rest // 2), "adopted",
             "Repeat identifications fell far below the old limits and stay there.")),
        Countermeasure(
            "fades", "Tech support: a briefing to stop asking callers to identify again",
            "over_processing_per_contact",
            {"channel": "phone", "reason": "technical_issue", "team": None},
            "tech_support", "decrease", 0.4,
            "The same callers are identified twice.", "reidentify", 0.1, starts, fade,
            (starts + fade, "adopted", "Repeat identifications fell after the briefing; adopted.")),
        Countermeasure(
            "nothing", "New hold music on the phone lines", "abandonment_rate",
            {"channel": "phone", "reason": None, "team": None}, "customer_service",
            "decrease", 0.02, "Callers may wait longer with calmer music.", "none", 1.0,
            starts, 0, None),
    )


#: when in the day the start and the end are recorded (business time)
START_AT, END_AT = 8 * HOUR, 17 * HOUR
