"""All SQL of the serving side (HTTP API, dashboard, huddle report), in one place.

Everything here reads the public views of schema ``waste`` (contract section 6) and
nothing else, so what operations see is exactly what ``leancrm_ops`` can read.

Filters (every view listing and the summary):

- ``from`` / ``to``: an RFC 3339 timestamp (``2026-11-30T09:00:00Z``, offsets allowed)
  or a date (``2026-11-30`` = 00:00 UTC), from 1970-01-01T00:00:00Z up to, not
  including, 2200-01-01T00:00:00Z (the contract's timestamp bounds). Rows whose time
  column is in ``[from, to)`` are returned; a day counts as its 00:00 UTC, an hourly
  bucket as its start.
- ``channel``, ``reason``, ``team`` and the other filters of a view: one value, several
  comma-separated values or the parameter repeated (any of them matches; at most 100).
- ``limit`` (1..10,000, default 1,000), ``offset`` (0..1,000,000) and ``order``
  (``asc``/``desc``) of a stable order (the view's key columns).

Every query string gets a verdict before any SQL runs: a bad value, an unknown
parameter, a NUL character or text that is not UTF-8, more than 200 parameters or 100
values of one is a :class:`BadRequest` naming the parameter, which quotes at most 64
characters of what was sent and lists at most 10 errors. Sums of seconds are taken in
numeric, exactly, as in the views: no figure depends on the order rows are read in.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final, Literal
from urllib.parse import parse_qsl
from uuid import UUID

from leancrm_contracts import read_model
from leancrm_contracts.enums import SLUG_PATTERN, Channel, FeedbackSource, RoutingTeam
from leancrm_contracts.limits import TIMESTAMP_MAX, TIMESTAMP_MIN
from leancrm_servicekit.db import Conn

# --------------------------------------------------------------------------------------
# The seven wastes and what a unit of each costs

#: The seven wastes, in the order of the post ("overproduction, unnecessary
#: transportation, inventory, motion, defects, over-processing, waiting").
WASTE_TYPES: Final = ("overproduction", "transportation", "inventory", "motion", "defects",
                      "over_processing", "waiting")

#: What each waste means at the front office, in the words of the post.
WASTE_WORDS: Final[Mapping[str, str]] = {
    "waiting": "customers held in a queue or on hold",
    "overproduction": "too many agents for the demand: idle time beyond the target occupancy",
    "over_processing": "customers asked to identify again",
    "motion": "contacts handed on to another agent",
    "transportation": "contacts moved to another channel",
    "defects": "the first agent can't answer: unresolved, resolved only after a transfer, "
               "or the customer has to come back",
    "inventory": "work that waited more than 24 hours before it was done",
}

#: Cost in seconds of one unit of each waste: the time a unit takes from customers and
#: agents. ``waiting`` and ``overproduction`` are measured in seconds already (1 s = 1 s);
#: the others are counts, costed at these time equivalents. Override any count with
#: ``LEANCRM_WASTE_COST_SECONDS="over_processing=45,defects=420"`` (or the huddle's
#: ``--cost``).
DEFAULT_COST_SECONDS: Final[Mapping[str, float]] = {
    "waiting": 1.0,          # seconds of queue and hold time, as measured
    "overproduction": 1.0,   # idle agent seconds beyond the target occupancy, as measured
    "over_processing": 30.0,  # an identification asked again: account number, security questions
    "motion": 60.0,          # a same-channel hand-off: the next agent reads up, the customer re-explains
    "transportation": 180.0,  # a channel switch: the customer starts over in another channel
    "defects": 300.0,        # a contact not done right first time: about one more contact's handling
    "inventory": 600.0,      # an item that aged past 24 h: chasing, re-reading and apologising
}
COST_RATIONALE: Final[Mapping[str, str]] = {
    "waiting": "seconds as measured (queue and hold)",
    "overproduction": "seconds as measured (idle beyond target)",
    "over_processing": "one identification asked again",
    "motion": "one hand-off to another agent: reading up, the customer re-explains",
    "transportation": "one channel switch: the customer starts over elsewhere",
    "defects": "one contact not done right first time: about one more contact's handling",
    "inventory": "one item aged past 24 h: chasing and re-reading",
}
MEASURED_IN_SECONDS: Final = frozenset({"waiting", "overproduction"})
COST_ENV: Final = "LEANCRM_WASTE_COST_SECONDS"


def parse_costs(text: str) -> dict[str, float]:
    """``"over_processing=45, defects=420"`` → ``{"over_processing": 45.0, ...}``."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in WASTE_TYPES:
            raise ValueError(f"{part!r}: expected <waste_type>=<seconds> with a waste type of "
                             f"{', '.join(sorted(set(WASTE_TYPES) - MEASURED_IN_SECONDS))}")
        if name in MEASURED_IN_SECONDS:
            raise ValueError(f"{name} is measured in seconds already; its cost is 1 s per second")
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"{part!r}: {value.strip()!r} is not a number of seconds") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"{part!r}: seconds must be 0 or more")
        out[name] = seconds
    return out


def cost_table(overrides: Mapping[str, float] | None = None,
               env: Mapping[str, str] | None = None) -> dict[str, float]:
    """The defaults, then ``LEANCRM_WASTE_COST_SECONDS``, then ``overrides``."""
    table = dict(DEFAULT_COST_SECONDS)
    table.update(parse_costs((os.environ if env is None else env).get(COST_ENV, "")))
    if overrides:
        table.update(overrides)
    return table


# --------------------------------------------------------------------------------------
# Parameters


#: Every date and instant a parameter names lies in [TIME_MIN, TIME_MAX): the contract's
#: timestamp bounds (section 2.5), so nothing the read model holds lies outside them, and
#: every day added to them (a summary's default week, the next midnight, the first day of
#: a range, the huddle's baseline) stays far from the end of Python's calendar.
TIME_MIN: Final = TIMESTAMP_MIN
TIME_MAX: Final = TIMESTAMP_MAX
TIME_RANGE_WORDS: Final = (f"from {TIME_MIN:%Y-%m-%dT%H:%M:%SZ} up to, not including, "
                           f"{TIME_MAX:%Y-%m-%dT%H:%M:%SZ}")

#: ``offset`` at most: paging is bounded (a deeper page is found by narrowing the filters)
MAX_OFFSET: Final = 1_000_000
#: an integer parameter with more digits than this is refused before it is converted
MAX_INT_DIGITS: Final = 18
#: name=value pairs in one query string, in all
MAX_PARAMS: Final = 200
#: values of one parameter, repeated and comma-separated together
MAX_VALUES: Final = 100
#: characters of one value: far more than any valid value (100 UUIDs, comma-separated)
MAX_VALUE_CHARS: Final = 4096
#: errors a 400 lists (it counts the others)
MAX_ERRORS: Final = 10
#: characters of a value or a parameter's name a 400 quotes back
ECHO_CHARS: Final = 64
_MAX_MESSAGE_CHARS: Final = 400


def shown(value: str) -> str:
    """A value as an error message quotes it: ``repr`` (so control characters are escaped)
    of at most :data:`ECHO_CHARS` characters, then "…" when there was more."""
    if len(value) > ECHO_CHARS:
        return repr(value[:ECHO_CHARS]) + "…"
    return repr(value)


def shown_name(name: str) -> str:
    """A parameter's name as a key of a 400's ``errors``: unprintable characters escaped
    (``seg\\x00ment``), at most :data:`ECHO_CHARS` characters, then "…" when there was more."""
    cut = name[:ECHO_CHARS]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in cut)
    return cut[:ECHO_CHARS] + "…" if len(name) > ECHO_CHARS or len(cut) > ECHO_CHARS else cut


class BadRequest(ValueError):
    """One or more bad parameters; ``errors`` maps each parameter (as :func:`shown_name`
    shows it) to what is wrong, at most :data:`MAX_ERRORS` of them; ``more`` counts the
    others. However big the input, the error stays small."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        items = [(shown_name(k), v if len(v) <= _MAX_MESSAGE_CHARS else v[:_MAX_MESSAGE_CHARS] + "…")
                 for k, v in errors.items()]
        self.errors = dict(items[:MAX_ERRORS])
        self.more = max(0, len(items) - MAX_ERRORS)
        text = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        super().__init__(text + (f"; and {self.more:,} more" if self.more else ""))


def parse_query_string(raw: bytes) -> list[tuple[str, str]]:
    """The name=value pairs of a raw query string, percent-decoded and read as UTF-8.

    Bytes that are not UTF-8 — a percent-encoded lone surrogate such as ``%ED%A0%80``, a
    Latin-1 ``%E9``, a cut ``%C3`` — are kept as lone surrogates (``surrogateescape``),
    which :func:`check_query` refuses, naming the parameter, where a lenient decoder
    would have put U+FFFD and searched for something nobody sent."""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return [(_utf8(k), _utf8(v)) for k, v in pairs]


def _utf8(text: str) -> str:
    return text.encode("latin-1").decode("utf-8", "surrogateescape")


_UNUSABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """What makes ``text`` unusable as a parameter, or None: the NUL character (PostgreSQL
    refuses it in text) or a lone surrogate (not UTF-8 at all)."""
    m = _UNUSABLE.search(text)
    if m is None:
        return None
    if m.group() == "\x00":
        return "contains the NUL character (U+0000), which no parameter takes"
    return "is not valid UTF-8 text (a lone surrogate, or a byte that starts no character)"


def check_query(items: Iterable[tuple[str, str]], allowed: Sequence[str],
                where: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The parameters by name, and what is wrong with them before any value is read:
    unknown names, too many values of one, a NUL or a lone surrogate, a value too long to
    be any valid value. More than :data:`MAX_PARAMS` pairs in all is a
    :class:`BadRequest` at once, naming the parameters given most."""
    pairs = list(items)
    params = group_params(pairs)
    too_many = f"given {{:,}} values; at most {MAX_VALUES} values of one parameter"
    if len(pairs) > MAX_PARAMS:
        ranked = sorted(params.items(), key=lambda kv: -len(kv[1]))
        raise BadRequest({
            name: too_many.format(len(vals)) if len(vals) > MAX_VALUES else
            f"one of {len(pairs):,} parameters given; a query takes at most {MAX_PARAMS} parameters in all"
            for name, vals in ranked})
    errors: dict[str, str] = {}
    for name, vals in params.items():
        problem = text_problem(name)
        if problem:
            errors[name] = "the parameter's name " + problem
        elif name not in allowed:
            errors[name] = (f"not a parameter of {where} (allowed: {', '.join(allowed)})" if allowed
                            else f"not a parameter of {where} (it takes none)")
        elif len(vals) > MAX_VALUES:
            errors[name] = too_many.format(len(vals))
        else:
            for v in vals:
                problem = text_problem(v)
                if problem:
                    errors[name] = problem
                    break
                if len(v) > MAX_VALUE_CHARS:
                    errors[name] = f"a value of {len(v):,} characters; at most {MAX_VALUE_CHARS:,}"
                    break
    return {k: v for k, v in params.items() if k not in errors}, errors


def check_no_params(items: Iterable[tuple[str, str]], where: str) -> None:
    """An endpoint that takes no parameter: any is a :class:`BadRequest`."""
    _, errors = check_query(items, (), where)
    if errors:
        raise BadRequest(errors)


_INT = re.compile(r"[+-]?([0-9]+)")


def parse_int(text: str, low: int, high: int) -> int:
    """An integer in ``low..high`` written with ASCII digits (no ``_``, no float, no
    other script's digits); more than :data:`MAX_INT_DIGITS` digits is refused before
    it is converted (Python would refuse more than 4,300 with ValueError anyway)."""
    m = _INT.fullmatch(text.strip())
    if not m or len(m.group(1).lstrip("0")) > MAX_INT_DIGITS:
        raise ValueError("not an integer")
    n = int(m.group())
    if not low <= n <= high:
        raise ValueError("out of range")
    return n


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SLUG = re.compile(SLUG_PATTERN)
_LABEL = re.compile(r"\S")


def _out_of_range(text: str) -> ValueError:
    return ValueError(f"{shown(text)} is out of range: a time must lie {TIME_RANGE_WORDS}")


def parse_instant(text: str) -> datetime:
    """An RFC 3339 timestamp (with Z or an offset) or a date (00:00 UTC), as UTC, in
    [:data:`TIME_MIN`, :data:`TIME_MAX`)."""
    t = text.strip()
    m = _RFC3339.fullmatch(t)
    if not m:
        raise ValueError("not an RFC 3339 timestamp or date (e.g. 2026-11-30 or 2026-11-30T09:00:00Z)")
    y, mo, d, h, mi, s, frac, tz = m.groups()
    # a year outside these is out of range whatever its offset; inside them, converting
    # to UTC cannot leave Python's calendar
    if not TIME_MIN.year - 1 <= int(y) <= TIME_MAX.year:
        raise _out_of_range(t)
    try:
        if h is None:
            value = datetime(int(y), int(mo), int(d), tzinfo=UTC)
        else:
            micro = int((frac[1:] + "000000")[:6]) if frac else 0
            tzinfo = UTC
            if tz not in ("Z", "z"):
                hours, minutes = int(tz[1:3]), int(tz[4:6])
                if hours > 23 or minutes > 59:
                    raise ValueError
                sign = 1 if tz[0] == "+" else -1
                tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
            value = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro,
                             tzinfo=tzinfo).astimezone(UTC)
    except ValueError:
        raise ValueError("not an RFC 3339 timestamp or date: no such date or time") from None
    if not TIME_MIN <= value < TIME_MAX:
        raise _out_of_range(t)
    return value


def parse_day(text: str) -> date:
    """A date YYYY-MM-DD whose 00:00 UTC lies in [:data:`TIME_MIN`, :data:`TIME_MAX`)."""
    t = text.strip()
    if not _DAY.fullmatch(t):
        raise ValueError("not a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(t)
    except ValueError:
        raise ValueError("not a date YYYY-MM-DD: no such day") from None
    if not TIME_MIN.date() <= day < TIME_MAX.date():
        raise ValueError(f"{shown(t)} is out of range: a day must lie {TIME_RANGE_WORDS}")
    return day


def rfc3339(value: datetime) -> str:
    """UTC with a Z, milliseconds (microseconds when there are any)."""
    v = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    frac = f"{v.microsecond // 1000:03d}" if v.microsecond % 1000 == 0 else f"{v.microsecond:06d}"
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


FilterKind = Literal["enum", "slug", "label", "uuid", "bool"]


@dataclass(frozen=True, slots=True)
class Filter:
    param: str
    column: str
    kind: FilterKind
    choices: tuple[str, ...] = ()
    what: str = ""

    def parse(self, raw: Sequence[str]) -> list[Any]:
        n = len(raw) if self.kind == "label" else sum(item.count(",") + 1 for item in raw)
        if n > MAX_VALUES:
            raise ValueError(f"given {n:,} values; at most {MAX_VALUES} values of one parameter")
        values: list[Any] = []
        for item in raw:
            parts = [item] if self.kind == "label" else item.split(",")
            for part in (p.strip() for p in parts):
                if not part:
                    raise ValueError("empty value")
                values.append(self._one(part))
        return list(dict.fromkeys(values))

    def _one(self, v: str) -> Any:
        if self.kind == "enum":
            if v not in self.choices:
                raise ValueError(f"unknown {self.what or self.param} {shown(v)} "
                                 f"(one of {', '.join(self.choices)})")
            return v
        if self.kind == "slug":
            if len(v) > 64 or not _SLUG.match(v):
                raise ValueError(f"{shown(v)} is not a {self.what or self.param}: a lowercase slug of "
                                 "1–64 characters (letters, digits, _ or -)")
            return v
        if self.kind == "label":
            if len(v) > 64 or not _LABEL.search(v):
                raise ValueError(f"{shown(v)} is not a {self.what or self.param} label of 1–64 characters")
            return v
        if self.kind == "uuid":
            try:
                if not v.isascii():
                    raise ValueError
                return UUID(v)
            except ValueError:
                raise ValueError(f"{shown(v)} is not a UUID") from None
        if v.lower() in ("true", "1", "yes"):
            return True
        if v.lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"{shown(v)} is not true or false")


CHANNELS: Final = tuple(c.value for c in Channel)
SOURCES: Final = tuple(s.value for s in FeedbackSource)
ROUTING_TEAMS: Final = tuple(t.value for t in RoutingTeam)
STATUSES: Final = read_model.STATUSES
AGE_BANDS: Final = read_model.AGE_BANDS

F_CHANNEL = Filter("channel", "channel", "enum", CHANNELS, "channel")
F_REASON = Filter("reason", "reason", "slug", what="reason")
F_TEAM = Filter("team", "team", "slug", what="team")

TimeKind = Literal["instant", "hour", "day"]


@dataclass(frozen=True, slots=True)
class View:
    name: str
    time_column: str | None
    time_kind: TimeKind | None
    filters: tuple[Filter, ...]
    order: tuple[str, ...]
    description: str

    @property
    def columns(self) -> tuple[str, ...]:
        """The view's columns, in order, as the contract has them."""
        return read_model.VIEWS[self.name]

    @property
    def params(self) -> tuple[str, ...]:
        time = ("from", "to") if self.time_column else ()
        return (*time, *(f.param for f in self.filters), "limit", "offset", "order")


_BAND_ORDER = "CASE age_band WHEN '<1h' THEN 1 WHEN '1-24h' THEN 2 ELSE 3 END"

VIEWS: Final[Mapping[str, View]] = {v.name: v for v in (
    View("interactions", "started_at", "instant",
         (F_CHANNEL, F_REASON, Filter("status", "status", "enum", STATUSES, "status"),
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
         (Filter("segment", "segment", "label", what="segment"),
          Filter("forgotten", "forgotten", "bool")),
         ("customer_id",), "Customers (name and email are null once forgotten)."),
)}

DEFAULT_LIMIT: Final = 1000
MAX_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime | None = None
    end: datetime | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"from": rfc3339(self.start) if self.start else None,
                "to": rfc3339(self.end) if self.end else None}


@dataclass(frozen=True, slots=True)
class ViewQuery:
    view: View
    time: TimeRange
    values: Mapping[str, list[Any]]  # filter param -> accepted values
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    descending: bool = False

    def filters_json(self) -> dict[str, Any]:
        out: dict[str, Any] = self.time.as_json() if self.view.time_column else {}
        for f in self.view.filters:
            vals = self.values.get(f.param)
            out[f.param] = [jsonable(v) for v in vals] if vals else None
        out.update(limit=self.limit, offset=self.offset, order="desc" if self.descending else "asc")
        return out


def group_params(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in items:
        out.setdefault(k, []).append(v)
    return out


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    vals = params.get(name)
    if not vals:
        return None
    if len(vals) > 1:
        raise ValueError("given more than once")
    return vals[0]


def parse_time_range(params: Mapping[str, list[str]], errors: dict[str, str],
                     max_days: int | None = None) -> TimeRange:
    got: dict[str, datetime | None] = {}
    for name in ("from", "to"):
        try:
            raw = _single(params, name)
            got[name] = parse_instant(raw) if raw is not None else None
        except ValueError as exc:
            errors[name] = str(exc)
    start, end = got.get("from"), got.get("to")
    if start and end and end <= start:
        errors["to"] = f"must be later than from ({rfc3339(start)})"
    elif max_days and start and end and end - start > timedelta(days=max_days):
        errors["to"] = f"the range may cover at most {max_days} days"
    return TimeRange(start, end)


def _int_param(params: Mapping[str, list[str]], name: str, default: int, low: int, high: int,
               wrong: str, errors: dict[str, str]) -> int:
    try:
        raw = _single(params, name)
    except ValueError as exc:
        errors[name] = str(exc)
        return default
    if raw is None:
        return default
    try:
        return parse_int(raw, low, high)
    except ValueError:
        errors[name] = wrong
        return default


LIMIT_WRONG: Final = f"must be an integer from 1 to {MAX_LIMIT:,}"
OFFSET_WRONG: Final = (f"must be an integer from 0 to {MAX_OFFSET:,} (paging is bounded: narrow the "
                       "filters, e.g. from and to, to reach later rows)")


def parse_view_query(view: View, items: Iterable[tuple[str, str]]) -> ViewQuery:
    params, errors = check_query(items, view.params, view.name)
    time = parse_time_range(params, errors) if view.time_column else TimeRange()
    values: dict[str, list[Any]] = {}
    for f in view.filters:
        if f.param in params:
            try:
                values[f.param] = f.parse(params[f.param])
            except ValueError as exc:
                errors[f.param] = str(exc)
    limit = _int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, LIMIT_WRONG, errors)
    offset = _int_param(params, "offset", 0, 0, MAX_OFFSET, OFFSET_WRONG, errors)
    descending = False
    try:
        raw = _single(params, "order")
        if raw is not None and raw not in ("asc", "desc"):
            raise ValueError("must be asc or desc")
        descending = raw == "desc"
    except ValueError as exc:
        errors["order"] = str(exc)
    if errors:
        raise BadRequest(errors)
    return ViewQuery(view, time, values, limit, offset, descending)


class _Sql:
    """A WHERE clause built from whitelisted columns and positional parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any, cast: str = "") -> str:
        self.args.append(value)
        return f"${len(self.args)}{cast}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def any_of(self, column: str, values: Sequence[Any] | None, cast: str) -> None:
        if values:
            self.add(f"{column} = ANY({self.arg(list(values), cast + '[]')})")

    def time(self, column: str, kind: TimeKind, time: TimeRange) -> None:
        if kind == "day":
            if time.start:
                self.add(f"{column} >= {self.arg(first_day_from(time.start), '::date')}")
            if time.end:
                self.add(f"{column} < {self.arg(first_day_from(time.end), '::date')}")
        else:
            if time.start:
                self.add(f"{column} >= {self.arg(time.start, '::timestamptz')}")
            if time.end:
                self.add(f"{column} < {self.arg(time.end, '::timestamptz')}")

    @property
    def where(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def first_day_from(instant: datetime) -> date:
    """The first day whose 00:00 UTC is at or after ``instant``."""
    u = instant.astimezone(UTC)
    d = u.date()
    return d if u == datetime(d.year, d.month, d.day, tzinfo=UTC) else d + timedelta(days=1)


_CASTS: Final[Mapping[FilterKind, str]] = {"enum": "::text", "slug": "::text", "label": "::text",
                                           "uuid": "::uuid", "bool": "::bool"}


async def fetch_view(conn: Conn, q: ViewQuery) -> tuple[list[dict[str, Any]], bool]:
    """The rows of one page of a view, and whether more rows follow."""
    v = q.view
    sql = _Sql()
    if v.time_column and v.time_kind:
        sql.time(v.time_column, v.time_kind, q.time)
    for f in v.filters:
        sql.any_of(f.column, q.values.get(f.param), _CASTS[f.kind])
    direction = " DESC" if q.descending else ""
    order = ", ".join(f"{k}{direction}" for k in v.order)
    cols = ", ".join(v.columns)
    text = (f"SELECT {cols} FROM waste.{v.name}{sql.where} ORDER BY {order} "
            f"LIMIT {sql.arg(q.limit + 1, '::int')} OFFSET {sql.arg(q.offset, '::int')}")
    records = await conn.fetch(text, *sql.args)
    rows = [{k: number(r[k]) for k in v.columns} for r in records[: q.limit]]
    return rows, len(records) > q.limit


# --------------------------------------------------------------------------------------
# Values


def number(value: Any) -> Any:
    """numeric → int when whole, else float; everything else unchanged."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def jsonable(value: Any) -> Any:
    """A JSON value: RFC 3339 Z timestamps, dates as YYYY-MM-DD, numbers as numbers."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def ratio(num: float | int | None, den: float | int | None) -> float | None:
    if num is None or not den:
        return None
    return float(num) / float(den)


# --------------------------------------------------------------------------------------
# Figures of the summary and the huddle report


@dataclass(frozen=True, slots=True)
class Scope:
    """What a summary or a report covers."""

    time: TimeRange
    channels: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {**self.time.as_json(), "channel": self.channels or None,
                "reason": self.reasons or None, "team": self.teams or None}


SUMMARY_MAX_DAYS: Final = 92
SUMMARY_PARAMS: Final = ("from", "to", "channel", "reason", "team")


def parse_scope(items: Iterable[tuple[str, str]], now: datetime | None = None,
                default_days: int = 7) -> Scope:
    """Summary parameters: from, to (default: the last ``default_days`` UTC days, today
    included), channel, reason, team."""
    if not 1 <= default_days <= SUMMARY_MAX_DAYS:
        raise ValueError(f"default_days must be from 1 to {SUMMARY_MAX_DAYS}")
    params, errors = check_query(items, SUMMARY_PARAMS, "the summary")
    time = parse_time_range(params, errors, SUMMARY_MAX_DAYS)
    values: dict[str, list[Any]] = {}
    for f in (F_CHANNEL, F_REASON, F_TEAM):
        if f.param in params:
            try:
                values[f.param] = f.parse(params[f.param])
            except ValueError as exc:
                errors[f.param] = str(exc)
    if errors:
        raise BadRequest(errors)
    # Defaults stay in [TIME_MIN, TIME_MAX]: from alone runs to at most TIME_MAX, to
    # alone goes back to at least TIME_MIN (both are at most 92 days from a bounded
    # instant, so no arithmetic here can leave the calendar).
    span = timedelta(days=default_days)
    start, end = time.start, time.end
    if start is None and end is None:
        today = min(max((now or datetime.now(UTC)).astimezone(UTC), TIME_MIN), TIME_MAX - timedelta(days=1))
        end = _midnight(today.date()) + timedelta(days=1)
    if end is None:
        assert start is not None
        end = min(start + span, TIME_MAX)
    if start is None:
        start = max(end - span, TIME_MIN)
        if start >= end:
            raise BadRequest({"to": f"must be later than {rfc3339(TIME_MIN)}: a time must lie "
                                    f"{TIME_RANGE_WORDS}"})
    if end - start > timedelta(days=SUMMARY_MAX_DAYS):
        raise BadRequest({"from": f"the range may cover at most {SUMMARY_MAX_DAYS} days"})
    return Scope(TimeRange(start, end), values.get("channel", []), values.get("reason", []),
                 values.get("team", []))


async def waste_totals(conn: Conn, scope: Scope) -> dict[str, dict[str, Any]]:
    """Per waste type over the scope: occurrences (rows with a positive quantity),
    quantity and unit. Channel and reason filters leave out overproduction rows (they
    have none); the team filter applies to every row."""
    sql = _Sql()
    sql.time("occurred_at", "instant", scope.time)
    sql.any_of("channel", scope.channels, "::text")
    sql.any_of("reason", scope.reasons, "::text")
    sql.any_of("team", scope.teams, "::text")
    rows = await conn.fetch(
        "SELECT waste_type, count(*) FILTER (WHERE quantity > 0) AS occurrences, "
        f"coalesce(sum(quantity::numeric), 0)::float8 AS quantity FROM waste.waste_ledger{sql.where} "
        "GROUP BY waste_type", *sql.args)
    got = {r["waste_type"]: r for r in rows}
    return {w: {"occurrences": int(got[w]["occurrences"]) if w in got else 0,
                "quantity": float(got[w]["quantity"]) if w in got else 0.0,
                "unit": "seconds" if w in MEASURED_IN_SECONDS else "count"}
            for w in WASTE_TYPES}


def pareto(totals: Mapping[str, Mapping[str, Any]], costs: Mapping[str, float]) -> dict[str, Any]:
    """The seven wastes ranked by cost in seconds (descending; ties in the post's order),
    with each one's share and the cumulative share."""
    rows = [{"waste_type": w, "label": w.replace("_", "-"), "words": WASTE_WORDS[w],
             "occurrences": t["occurrences"], "quantity": t["quantity"], "unit": t["unit"],
             "cost_per_unit_s": costs[w], "cost_s": t["quantity"] * costs[w]}
            for w, t in totals.items()]
    rows.sort(key=lambda r: (-r["cost_s"], WASTE_TYPES.index(r["waste_type"])))
    total = sum(r["cost_s"] for r in rows)
    running = 0.0
    for r in rows:
        running += r["cost_s"]
        r["share"] = ratio(r["cost_s"], total)
        r["cumulative_share"] = ratio(running, total)
    return {"rank_by": "cost_s", "total_cost_s": total, "rows": rows}


async def waste_by_day(conn: Conn, first: date, last: date) -> dict[date, dict[str, float]]:
    """Quantity of each waste per day (waste.waste_daily), days first..last inclusive."""
    rows = await conn.fetch(
        "SELECT day, waste_type, quantity::float8 AS quantity FROM waste.waste_daily "
        "WHERE day >= $1::date AND day <= $2::date", first, last)
    out: dict[date, dict[str, float]] = {}
    for r in rows:
        out.setdefault(r["day"], {})[r["waste_type"]] = float(r["quantity"] or 0)
    return out


async def flow_by_day(conn: Conn, scope: Scope, by_reason: bool = False) -> list[dict[str, Any]]:
    """Per day of the interactions' start (and reason): contacts, first-contact resolutions,
    failure demand, abandoned, transferred and the value-added and lead seconds of the
    ended ones, with the rates of waste.value_stream_daily over all channels and
    reasons in scope (flow efficiency = Σ value_added_s / Σ lead_time_s over ended
    interactions)."""
    sql = _Sql()
    sql.time("started_at", "instant", scope.time)
    sql.any_of("channel", scope.channels, "::text")
    sql.any_of("reason", scope.reasons, "::text")
    key = ", reason" if by_reason else ""
    rows = await conn.fetch(
        "SELECT (started_at AT TIME ZONE 'UTC')::date AS day" + key + ", count(*) AS contacts, "
        "count(*) FILTER (WHERE first_contact_resolution) AS fcr, "
        "count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand, "
        "count(*) FILTER (WHERE status = 'abandoned') AS abandoned, "
        "count(*) FILTER (WHERE transfers >= 1) AS transferred, "
        "coalesce(sum(value_added_s::numeric) FILTER (WHERE ended_at IS NOT NULL), 0)::float8 "
        "AS value_added_s, "
        "coalesce(sum(lead_time_s::numeric) FILTER (WHERE ended_at IS NOT NULL), 0)::float8 "
        "AS lead_time_s "
        f"FROM waste.interactions{sql.where} GROUP BY 1{key} ORDER BY 1{key}", *sql.args)
    return [with_rates(dict(r)) for r in rows]


def with_rates(r: dict[str, Any]) -> dict[str, Any]:
    r["fcr_rate"] = ratio(r["fcr"], r["contacts"])
    r["failure_demand_rate"] = ratio(r["failure_demand"], r["contacts"])
    r["abandonment_rate"] = ratio(r["abandoned"], r["contacts"])
    r["transfer_rate"] = ratio(r["transferred"], r["contacts"])
    r["flow_efficiency"] = ratio(r["value_added_s"], r["lead_time_s"])
    return r


async def capacity(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    sql = _Sql()
    sql.time("bucket_start", "hour", scope.time)
    sql.any_of("team", scope.teams, "::text")
    rows = await conn.fetch(
        "SELECT bucket_start, team, staffed_s, busy_s, idle_s, occupancy, overproduction_s "
        f"FROM waste.capacity_hourly{sql.where} ORDER BY bucket_start, team", *sql.args)
    return [dict(r) for r in rows]


async def capacity_by_day(conn: Conn, first: date, last: date) -> dict[date, dict[str, float]]:
    """Per day: staffed, busy and overproduction seconds of every team."""
    rows = await conn.fetch(
        "SELECT (bucket_start AT TIME ZONE 'UTC')::date AS day, "
        "sum(staffed_s::numeric)::float8 AS staffed_s, sum(busy_s::numeric)::float8 AS busy_s, "
        "sum(overproduction_s::numeric)::float8 AS overproduction_s "
        "FROM waste.capacity_hourly WHERE bucket_start >= $1::timestamptz AND bucket_start < $2::timestamptz "
        "GROUP BY 1", _midnight(first), _midnight(last + timedelta(days=1)))
    return {r["day"]: {k: float(r[k] or 0) for k in ("staffed_s", "busy_s", "overproduction_s")}
            for r in rows}


async def backlog(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    sql = _Sql()
    sql.any_of("channel", scope.channels, "::text")
    rows = await conn.fetch(
        f"SELECT channel, age_band, open_interactions FROM waste.backlog{sql.where} "
        f"ORDER BY {_BAND_ORDER}, channel", *sql.args)
    return [{k: number(r[k]) for k in ("channel", "age_band", "open_interactions")} for r in rows]


async def sentiment(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    """Feedback of the days in scope per source and routed team: count, average
    sentiment and negative share (the daily figures weighted by their counts), ideas
    and net idea votes."""
    sql = _Sql()
    sql.time("day", "day", scope.time)
    rows = await conn.fetch(
        "SELECT source, routed_team AS team, sum(feedback_count)::bigint AS feedback_count, "
        "(sum(avg_sentiment::numeric * feedback_count) "
        "   / nullif(sum(feedback_count) FILTER (WHERE avg_sentiment IS NOT NULL), 0))::float8 "
        "   AS avg_sentiment, "
        "(sum(negative_share::numeric * feedback_count) "
        "   / nullif(sum(feedback_count) FILTER (WHERE negative_share IS NOT NULL), 0))::float8 "
        "   AS negative_share, "
        "sum(ideas)::bigint AS ideas, sum(idea_votes)::bigint AS idea_votes "
        f"FROM waste.feedback_daily{sql.where} GROUP BY source, routed_team "
        "ORDER BY source, routed_team", *sql.args)
    return [{k: number(v) for k, v in dict(r).items()} for r in rows]


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def days_of(time: TimeRange) -> list[date]:
    """The day ``from`` falls in and every following day that starts before ``to``."""
    assert time.start and time.end
    d, out = time.start.astimezone(UTC).date(), []
    while _midnight(d) < time.end:
        out.append(d)
        d += timedelta(days=1)
    return out


async def summary(conn: Conn, scope: Scope, costs: Mapping[str, float],
                  target_occupancy: float | None) -> dict[str, Any]:
    """Every figure of the dashboard, read in one snapshot of the read model."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute("SET LOCAL statement_timeout = '20s'")
        totals = await waste_totals(conn, scope)
        flow = await flow_by_day(conn, scope)
        cap = await capacity(conn, scope)
        bl = await backlog(conn, scope)
        fb = await sentiment(conn, scope)
        now = await conn.fetchval("SELECT now()")
    by_day = {r["day"]: r for r in flow}
    keys = ("contacts", "fcr", "failure_demand", "abandoned", "transferred", "value_added_s",
            "lead_time_s")
    daily = [by_day.get(d) or with_rates({"day": d, **dict.fromkeys(keys, 0)})
             for d in days_of(scope.time)]
    pooled = with_rates({k: sum(r[k] for r in flow) for k in keys})
    staffed = sum(float(r["staffed_s"] or 0) for r in cap)
    busy = sum(float(r["busy_s"] or 0) for r in cap)
    teams = sorted({r["team"] for r in cap})
    bands = {b: sum(r["open_interactions"] for r in bl if r["age_band"] == b) for b in AGE_BANDS}
    return {
        "generated_at": now,
        "filters": scope.as_json(),
        "applies": {
            "pareto": ["from", "to", "channel", "reason", "team"],
            "daily": ["from", "to", "channel", "reason"],
            "capacity": ["from", "to", "team"],
            "backlog": ["channel"],
            "sentiment": ["from", "to"],
        },
        "target_occupancy": target_occupancy,
        "cost_seconds": dict(costs),
        "headline": {
            "contacts": pooled["contacts"], "fcr_rate": pooled["fcr_rate"],
            "failure_demand_rate": pooled["failure_demand_rate"],
            "abandonment_rate": pooled["abandonment_rate"],
            "flow_efficiency": pooled["flow_efficiency"],
            "occupancy": ratio(busy, staffed),
            "overproduction_s": sum(float(r["overproduction_s"] or 0) for r in cap),
            "open_interactions": sum(bands.values()),
        },
        "pareto": pareto(totals, costs),
        "daily": daily,
        "capacity": {"teams": teams, "rows": cap},
        "backlog": {"bands": list(AGE_BANDS), "by_band": bands, "rows": bl},
        "sentiment": {"sources": list(SOURCES), "teams": list(ROUTING_TEAMS), "rows": fb},
    }


#: the longest baseline of the huddle's figures (a year), so its window stays in the calendar
MAX_BASELINE_DAYS: Final = 366


async def huddle_figures(conn: Conn, day: date, baseline_days: int = 7) -> dict[str, Any]:
    """The raw daily figures of ``day`` and the ``baseline_days`` days before it, in one
    snapshot: wastes, flow (all and per reason) and capacity per day. ``day`` lies in
    [TIME_MIN, TIME_MAX) (:func:`parse_day` gives one) and ``baseline_days`` in
    0..:data:`MAX_BASELINE_DAYS`; otherwise ValueError."""
    if not TIME_MIN.date() <= day < TIME_MAX.date():
        raise ValueError(f"day {day.isoformat()} is out of range: a day must lie {TIME_RANGE_WORDS}")
    if not 0 <= baseline_days <= MAX_BASELINE_DAYS:
        raise ValueError(f"baseline_days must be from 0 to {MAX_BASELINE_DAYS}")
    first = day - timedelta(days=baseline_days)
    scope = Scope(TimeRange(_midnight(first), _midnight(day + timedelta(days=1))))
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        wastes = await waste_by_day(conn, first, day)
        flow = await flow_by_day(conn, scope)
        reasons = await flow_by_day(conn, scope, by_reason=True)
        cap = await capacity_by_day(conn, first, day)
    return {"first": first, "day": day, "wastes": wastes,
            "flow": {r["day"]: r for r in flow}, "reasons": reasons, "capacity": cap}
