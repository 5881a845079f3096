"""What the API serves: the views of schema ``waste`` (contract section 6), each with
its time column, its filters and a stable order (its key columns), and the filters of
the summary. Data only: :mod:`leancrm_waste.read.params` reads a request against it,
:mod:`leancrm_waste.read.views` builds the SQL from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from leancrm_contracts import read_model
from leancrm_contracts.enums import Channel, FeedbackSource, RoutingTeam
from leancrm_contracts.improvements import Target
from leancrm_waste.domain.wastes import WASTE_TYPES

#: how a filter's values are read: one of ``choices``, a slug, a free label, a UUID, a bool
FilterKind = Literal["enum", "slug", "label", "uuid", "bool"]
#: what a view's time column holds: an instant, the start of a UTC hour, a day of the
#: business time zone
TimeKind = Literal["instant", "hour", "day"]


@dataclass(frozen=True, slots=True)
class Filter:
    """A filter of a view: the parameter ``param`` matches column ``column``."""

    param: str
    column: str
    kind: FilterKind
    choices: tuple[str, ...] = ()
    what: str = ""
    #: an open set of values (a slug) the read model knows: a key of
    #: :data:`leancrm_waste.read.views.KNOWN_VALUES_SQL`; a value it does not know is a 400
    #: naming the known ones (a typo answers no silently empty or unfiltered figures)
    known: str = ""


CHANNELS: Final = tuple(c.value for c in Channel)
SOURCES: Final = tuple(s.value for s in FeedbackSource)
ROUTING_TEAMS: Final = tuple(t.value for t in RoutingTeam)
STATUSES: Final = read_model.STATUSES
AGE_BANDS: Final = read_model.AGE_BANDS

F_CHANNEL = Filter("channel", "channel", "enum", CHANNELS, "channel")
F_REASON = Filter("reason", "reason", "slug", what="reason", known="reason")
F_TEAM = Filter("team", "team", "slug", what="team", known="team")


@dataclass(frozen=True, slots=True)
class View:
    """A view of schema ``waste`` as the API serves it at ``/api/v1/<name>``: filtered on
    ``time_column`` by ``from``/``to``, by its ``filters``, paged in ``order``."""

    name: str
    time_column: str | None
    time_kind: TimeKind | None
    filters: tuple[Filter, ...]
    order: tuple[str, ...]
    description: str
    #: columns holding personal data: served only to a token with the scope personal:read
    #: (null and listed under ``withheld`` otherwise); never a filter or an order
    personal: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """The view's columns, in order, as the contract has them."""
        return read_model.VIEWS[self.name]

    @property
    def params(self) -> tuple[str, ...]:
        time = ("from", "to") if self.time_column else ()
        return (*time, *(f.param for f in self.filters), "limit", "offset", "order", "format")


#: the backlog's age bands from youngest to oldest, as an ORDER BY key
_BAND_ORDER = "CASE age_band WHEN '<1h' THEN 1 WHEN '1-24h' THEN 2 ELSE 3 END"

VIEWS: Final[Mapping[str, View]] = {v.name: v for v in (
    View("interactions", "started_at", "instant",
         (F_CHANNEL, F_REASON, F_TEAM, Filter("status", "status", "enum", STATUSES, "status"),
          Filter("customer_id", "customer_id", "uuid")),
         ("started_at", "interaction_id"),
         "One row per interaction with its section-5 figures."),
    View("waste_ledger", "occurred_at", "instant",
         (F_CHANNEL, F_REASON, F_TEAM,
          Filter("waste_type", "waste_type", "enum", WASTE_TYPES, "waste type"),
          Filter("interaction_id", "interaction_id", "uuid")),
         ("occurred_at", "waste_type", "subtype", "interaction_id", "team", "source_event_id",
          "quantity"),
         "One row per occurrence of one of the seven wastes."),
    View("hourly_metrics", "bucket_start", "hour", (F_CHANNEL, F_REASON),
         ("bucket_start", "channel", "reason"),
         "Flow figures per UTC hour of the interactions' start, channel and reason."),
    View("capacity_hourly", "bucket_start", "hour", (F_TEAM,), ("bucket_start", "team"),
         "Staffed, busy and idle seconds, occupancy and overproduction per UTC hour and team."),
    View("value_stream_daily", "day", "day", (F_CHANNEL, F_REASON), ("day", "channel", "reason"),
         "Daily value-stream rates and waste columns per channel and reason."),
    View("waste_daily", "day", "day",
         (Filter("waste_type", "waste_type", "enum", WASTE_TYPES, "waste type"),),
         ("day", "waste_type"), "Occurrences and quantity of each waste per day."),
    View("backlog", None, None,
         (F_CHANNEL, Filter("age_band", "age_band", "enum", AGE_BANDS, "age band")),
         ("channel", _BAND_ORDER), "Interactions not yet ended, per channel and age band (now)."),
    View("feedback_daily", "day", "day",
         (Filter("source", "source", "enum", SOURCES, "feedback source"),
          Filter("team", "routed_team", "enum", ROUTING_TEAMS, "routing team")),
         ("day", "source", "routed_team"),
         "Feedback per day, source and routed team: count, sentiment, ideas and votes."),
    View("customers", None, None,
         (Filter("segment", "segment", "label", what="segment", known="segment"),
          Filter("forgotten", "forgotten", "bool")),
         ("customer_id",), "Customers (name and email are null once forgotten or erased, while "
                           "the projector holds no key for them — personal_data says which — and "
                           "without the scope personal:read).", personal=("name", "email")),
    View("open_interactions", "started_at", "instant",
         (F_CHANNEL, F_REASON, F_TEAM, Filter("age_band", "age_band", "enum", AGE_BANDS, "age band")),
         ("started_at", "interaction_id"),
         "Interactions not yet ended, one row each, with the waiting accrued so far by those "
         "still queued or on hold (now)."),
    # service level, demand by type and lead times (contract section 5; issue 14)
    View("service_level_targets", None, None, (F_CHANNEL,), ("channel",),
         "The service-level threshold per channel, in seconds."),
    View("business_time_zone", None, None, (), ("time_zone",),
         "One row: the business time zone (IANA name) the day columns are cut in."),
    View("service_level_hourly", "bucket_start", "hour", (F_CHANNEL,), ("bucket_start", "channel"),
         "Service level (answered within the channel's threshold / offered) and average and 90th-"
         "percentile speed of answer per UTC hour of start and channel."),
    View("demand_daily", "day", "day", (F_CHANNEL, F_REASON), ("day", "channel", "reason"),
         "Value and failure demand per day of start (business time zone), channel and reason."),
    View("lead_time_daily", "day", "day", (F_REASON,), ("day", "reason"),
         "Lead-time percentiles (p50, p85, p95) of the interactions ended per day (business time "
         "zone), per reason."),
    View("data_quality", "day", "day",
         (Filter("anomaly", "anomaly", "enum", read_model.ANOMALIES, "anomaly"),),
         ("day", "anomaly"),
         "Accepted data that spans streams and does not add up (an assignment outside the "
         "agent's sign-in, ...), per day (business time zone) and kind of anomaly."),
    View("improvements", "starts_on", "day",
         (Filter("status", "status", "enum", read_model.IMPROVEMENT_STATUSES, "status"),
          Filter("target", "target", "enum", tuple(t.value for t in Target), "target"),
          Filter("owner_team", "owner_team", "slug", what="owning team"), F_CHANNEL, F_REASON),
         ("starts_on", "improvement_id"),
         "Improvements (countermeasures) with their target, scope, start and status; their "
         "effect is at /api/v1/improvements/effects."),
)}

#: the parameters of the summary, and the filters among them
SUMMARY_PARAMS: Final = ("from", "to", "period", "channel", "reason", "team")
SUMMARY_FILTERS: Final = (F_CHANNEL, F_REASON, F_TEAM)

#: ``period``: a named span of whole days ending with today (``today``, ``last_N_days``)
#: or yesterday, instead of ``from``/``to``: name -> (days back from today to its first
#: day, days it covers)
PERIODS: Final[Mapping[str, tuple[int, int]]] = {
    "today": (0, 1), "yesterday": (1, 1), "last_7_days": (6, 7), "last_14_days": (13, 14),
    "last_28_days": (27, 28),
}

#: what a waste's breakdown can be by (``/api/v1/breakdown?by=``): a column of waste.waste_ledger
BREAKDOWN_BY: Final = ("channel", "reason", "team")
F_WASTE = Filter("waste", "waste_type", "enum", WASTE_TYPES, "waste type")
#: the parameters of the breakdown
BREAKDOWN_PARAMS: Final = (*SUMMARY_PARAMS, "by", "waste", "format")
#: what ``format`` takes (else: JSON, or CSV when the request accepts text/csv)
FORMATS: Final = ("json", "csv")
