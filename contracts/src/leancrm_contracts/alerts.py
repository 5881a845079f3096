"""Alert messages (contract section 2.7) on ``crm.alerts.v1``: what the waste service
publishes when one of section 5's alert rules raises or clears an alert. Not an event
envelope (no stream, no command caused it): a flat object of its own, keyed
``<rule>:<subject>``."""

from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .envelope import PositiveInt, Timestamp

ALERT_RAISED: Final = "alert.raised"
ALERT_CLEARED: Final = "alert.cleared"
#: the ``event_type`` of an alert message, in section 2.7's order
ALERT_TYPES: Final[tuple[str, ...]] = (ALERT_RAISED, ALERT_CLEARED)
#: the rules of section 5 ("Alert rules"); a consumer should accept rules it does not know
ALERT_RULES: Final[tuple[str, ...]] = ("backlog_aged", "queue_wait_p90", "occupancy_high", "rate_signal")
#: the ``producer`` of every alert message
ALERT_PRODUCER: Final = "waste"
MAX_SUMMARY_CHARS: Final = 300

RuleName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64,
                                            pattern=r"^[a-z][a-z0-9_]*$")]
Subject = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
Figure = Annotated[float, Field(allow_inf_nan=False)]


class AlertMessage(BaseModel):
    """Section 2.7: one alert raised (``alert.raised``) or cleared (``alert.cleared``)."""

    model_config = ConfigDict(extra="ignore")

    event_id: UUID
    event_type: Literal["alert.raised", "alert.cleared"]
    schema_version: PositiveInt
    producer: Literal["waste"]
    rule: RuleName
    subject: Subject
    value: Figure
    threshold: Figure
    at: Timestamp
    raised_at: Timestamp
    summary: Annotated[str, StringConstraints(strict=True, max_length=MAX_SUMMARY_CHARS)]

    @property
    def key(self) -> str:
        """The Kafka key: ``<rule>:<subject>``."""
        return f"{self.rule}:{self.subject}"
