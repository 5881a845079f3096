"""The public read model (contract section 6): the views of schema ``waste`` that the
role ``leancrm_ops`` reads, with their columns in order. Their names and columns are
contract: the waste projector's tests check the views it installs against this."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

SCHEMA: Final = "waste"
OPS_ROLE: Final = "leancrm_ops"

VIEWS: Final[Mapping[str, tuple[str, ...]]] = {
    "interactions": (
        "interaction_id", "customer_id", "channel", "reason", "started_at", "ended_at", "status",
        "resolved_by", "transfers", "cross_channel_transfers", "identifications", "queue_wait_s",
        "hold_s", "handle_s", "value_added_s", "lead_time_s", "first_contact_resolution",
        "repeat_of", "team",
    ),
    "waste_ledger": (
        "waste_type", "subtype", "occurred_at", "interaction_id", "customer_id", "channel",
        "reason", "team", "quantity", "unit", "source_event_id",
    ),
    "hourly_metrics": (
        "bucket_start", "channel", "reason", "contacts", "resolved", "first_contact_resolutions",
        "failure_demand", "transfers", "abandoned", "queue_wait_s", "hold_s", "handle_s",
        "value_added_s", "lead_time_s",
    ),
    "capacity_hourly": (
        "bucket_start", "team", "staffed_s", "busy_s", "idle_s", "occupancy", "overproduction_s",
    ),
    "value_stream_daily": (
        "day", "channel", "reason", "contacts", "fcr_rate", "failure_demand_rate",
        "transfer_rate", "abandonment_rate", "avg_speed_of_answer_s", "avg_handle_s",
        "flow_efficiency", "waiting_s", "over_processing", "motion", "transportation", "defects",
        "inventory",
    ),
    "waste_daily": ("day", "waste_type", "occurrences", "quantity", "unit"),
    "backlog": ("channel", "age_band", "open_interactions"),
    "feedback_daily": (
        "day", "source", "routed_team", "feedback_count", "avg_sentiment", "negative_share",
        "ideas", "idea_votes",
    ),
    "customers": ("customer_id", "segment", "name", "email", "forgotten", "personal_data"),
    "open_interactions": (
        "interaction_id", "channel", "reason", "team", "started_at", "age_band", "queued_since",
        "on_hold_since", "open_waiting_s",
    ),
    "service_level_targets": ("channel", "threshold_s"),
    "business_time_zone": ("time_zone",),
    "service_level_hourly": (
        "bucket_start", "channel", "threshold_s", "contacts", "offered", "answered",
        "answered_within_threshold", "abandoned_after_threshold", "service_level",
        "avg_speed_of_answer_s", "p90_speed_of_answer_s",
    ),
    "demand_daily": (
        "day", "channel", "reason", "contacts", "value_demand", "failure_demand",
        "failure_demand_share",
    ),
    "lead_time_daily": (
        "day", "reason", "ended_interactions", "p50_lead_time_s", "p85_lead_time_s",
        "p95_lead_time_s",
    ),
    "data_quality": ("day", "anomaly", "occurrences"),
    "improvements": (
        "improvement_id", "title", "target", "channel", "reason", "team", "starts_on",
        "owner_team", "expected_direction", "expected_size", "status", "ended_on",
        "outcome_note", "started_at", "ended_at",
    ),
}

#: `waste.interactions.status`
STATUSES: Final = ("open", "resolved", "unresolved", "abandoned")
#: `waste.backlog.age_band`
AGE_BANDS: Final = ("<1h", "1-24h", ">24h")
#: `waste.improvements.status`
IMPROVEMENT_STATUSES: Final = ("running", "adopted", "abandoned")
#: `waste.data_quality.anomaly`: what spans streams and does not add up (section 4)
ANOMALIES: Final = (
    "assignment_outside_sign_in", "assignment_team_differs", "interaction_of_unknown_customer",
)
