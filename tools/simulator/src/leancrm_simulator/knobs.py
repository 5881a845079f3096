"""The knobs of a scenario: what the simulated front office looks like.

Every knob moves the waste figures in a known direction (README.md of this tool
lists them). Knobs are plain data; ``Knobs.validate`` says in words what is wrong.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

#: Monday 23 November 2026: the week the contract's examples are taken from.
DEFAULT_START = date(2026, 11, 23)


class KnobError(ValueError):
    """A knob has a value the simulator cannot work with (the message says which)."""

    def __init__(self, message: str, knob: str | None = None) -> None:
        super().__init__(message)
        self.knob = knob


@dataclass(frozen=True, slots=True)
class Knobs:
    """What to simulate. Probabilities and shares are 0..1."""

    seed: int = 42
    """Same seed and knobs: the very same commands, ids included."""
    customers: int = 400
    """Customers registered (90 % at the start, the rest during the period)."""
    days: int = 7
    """Simulated days, starting at 00:00 UTC of ``start``."""
    start: date = DEFAULT_START
    """First simulated day (business time; occurred_at of every command)."""
    agents_per_team: int = 4
    """Agents in each of the five teams' pools: the most that can be rostered at once."""
    staffing: float = 1.0
    """Rostered agents relative to the forecast need at 85 % occupancy (1.0 = to plan)."""
    contact_rate: float = 3.0
    """New (value-demand) contacts per customer per week, all channels."""
    reidentify: float = 0.6
    """Chance an agent asks the customer to identify again (after IVR, bot or a transfer)."""
    transfer: float = 0.5
    """Chance an agent who cannot resolve the contact transfers it (else it ends unresolved)."""
    cross_channel: float = 0.25
    """Share of transfers that move the contact to another channel (e.g. phone to email)."""
    fcr: float = 0.75
    """First-contact resolution skill: chance the first agent resolves the contact."""
    self_service: float = 0.3
    """Share of new contacts that start in web self-service, the community or the bot."""
    feedback_rate: float = 0.25
    """Chance an ended contact brings a survey or complaint; also scales tweets, reviews, ideas."""
    email_backlog: float = 0.15
    """Share of emails that sit in a low-priority pile for one to three days before handling."""
    improvements: bool = False
    """Three countermeasures from mid-period (one works, one fades, one does nothing)."""

    def validate(self) -> Knobs:
        """Return self, or raise KnobError naming the knob and the allowed range."""
        def need(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise KnobError(f"{name} = {getattr(self, name)!r}: must be {what}", name)

        need(self.seed >= 0, "seed", "0 or more")
        need(1 <= self.customers <= 1_000_000, "customers", "between 1 and 1,000,000")
        need(1 <= self.days <= 366, "days", "between 1 and 366")
        need(1 <= self.agents_per_team <= 200, "agents_per_team", "between 1 and 200")
        need(0.0 < self.staffing <= 10.0, "staffing", "more than 0 and at most 10")
        need(0.0 <= self.contact_rate <= 50.0, "contact_rate",
             "between 0 and 50 per customer per week")
        for name in ("reidentify", "transfer", "cross_channel", "fcr", "self_service",
                     "feedback_rate", "email_backlog"):
            need(0.0 <= getattr(self, name) <= 1.0, name, "between 0 and 1")
        return self

    def replace(self, **changes: Any) -> Knobs:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (v.isoformat() if isinstance(v := getattr(self, f.name), date) else v)
                for f in fields(self)}

    def namespace(self) -> str:
        """8 hex digits from the seed and every knob: prefixes ids so that scenarios never collide.

        The same seed and knobs give the same namespace (re-sending a scenario is then
        a no-op: every command is a ``duplicate``); any other scenario gets fresh ids.
        """
        knobs = self.as_dict()
        if not knobs["improvements"]:
            del knobs["improvements"]  # the ids of scenarios from before the knob stay the same
        text = json.dumps(knobs, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_options(cls, **options: Any) -> Knobs:
        """Knobs from keyword options; unknown names are a KnobError listing the known ones."""
        unknown = sorted(set(options) - set(cls.names()))
        if unknown:
            raise KnobError(f"unknown knob(s) {', '.join(unknown)}; "
                            f"known: {', '.join(cls.names())}")
        if isinstance(options.get("start"), str):
            try:
                options["start"] = date.fromisoformat(options["start"])
            except ValueError as exc:
                raise KnobError(f"start = {options['start']!r}: must be a date YYYY-MM-DD",
                                "start") from exc
        return cls(**options).validate()
