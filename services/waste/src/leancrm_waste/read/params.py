"""The values of a request's parameters, and their bounds.

- ``from`` / ``to``: an RFC 3339 timestamp (``2026-11-30T09:00:00Z``, offsets allowed)
  or a date (``2026-11-30`` = its 00:00 in the business time zone,
  :mod:`leancrm_waste.read.timezone`), from 1970-01-01T00:00:00Z up to, not including,
  2200-01-01T00:00:00Z (the contract's timestamp bounds). Rows whose time column is in
  ``[from, to)`` are returned; a day column's day counts as its 00:00 in the business
  time zone, an hourly bucket as its start.
- ``channel``, ``reason``, ``team`` and the other filters of a view: one value, several
  comma-separated values or the parameter repeated (any of them matches; at most 100).
- ``limit`` (1..10,000, default 1,000), ``offset`` (0..1,000,000) and ``order``
  (``asc``/``desc``) of a stable order (the view's key columns).

A request is first checked whole (:mod:`leancrm_waste.read.querystring`); then each
value is read here, and every error is collected into one :class:`BadRequest`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, Final
from uuid import UUID

from leancrm_contracts.enums import SLUG_PATTERN
from leancrm_contracts.limits import TIMESTAMP_MAX, TIMESTAMP_MIN
from leancrm_waste.read.catalogue import (
    BREAKDOWN_BY,
    BREAKDOWN_PARAMS,
    F_WASTE,
    FORMATS,
    PERIODS,
    SUMMARY_FILTERS,
    SUMMARY_PARAMS,
    Filter,
    View,
)
from leancrm_waste.read.querystring import MAX_VALUES, BadRequest, check_query, shown
from leancrm_waste.read.shaping import jsonable, rfc3339
from leancrm_waste.read.timezone import day_of, midnight_in, today_in

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
#: rows of a page of a view: by default, and at most
DEFAULT_LIMIT: Final = 1000
MAX_LIMIT: Final = 10_000
#: days a summary may cover
SUMMARY_MAX_DAYS: Final = 92

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


def parse_instant(text: str, zone: tzinfo = UTC) -> datetime:
    """An RFC 3339 timestamp (with Z or an offset) or a date (its 00:00 in ``zone``, the
    business time zone), as UTC, in [:data:`TIME_MIN`, :data:`TIME_MAX`)."""
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
            value = midnight_in(date(int(y), int(mo), int(d)), zone)
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
    """A date YYYY-MM-DD in [:data:`TIME_MIN`, :data:`TIME_MAX`) (a calendar day: the zone
    it is a day of is the caller's, the business time zone)."""
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


def parse_filter(f: Filter, raw: Sequence[str]) -> list[Any]:
    """The values of filter ``f`` given as ``raw`` (repeated and comma-separated; a label
    is never split), without repeats, in the order given."""
    n = len(raw) if f.kind == "label" else sum(item.count(",") + 1 for item in raw)
    if n > MAX_VALUES:
        raise ValueError(f"given {n:,} values; at most {MAX_VALUES} values of one parameter")
    values: list[Any] = []
    for item in raw:
        parts = [item] if f.kind == "label" else item.split(",")
        for part in (p.strip() for p in parts):
            if not part:
                raise ValueError("empty value")
            values.append(_filter_value(f, part))
    return list(dict.fromkeys(values))


def _filter_value(f: Filter, v: str) -> Any:
    if f.kind == "enum":
        if v not in f.choices:
            raise ValueError(f"unknown {f.what or f.param} {shown(v)} "
                             f"(one of {', '.join(f.choices)})")
        return v
    if f.kind == "slug":
        if len(v) > 64 or not _SLUG.match(v):
            raise ValueError(f"{shown(v)} is not a {f.what or f.param}: a lowercase slug of "
                             "1–64 characters (letters, digits, _ or -)")
        return v
    if f.kind == "label":
        if len(v) > 64 or not _LABEL.search(v):
            raise ValueError(f"{shown(v)} is not a {f.what or f.param} label of 1–64 characters")
        return v
    if f.kind == "uuid":
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


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``[start, end)``; None: unbounded on that side."""

    start: datetime | None = None
    end: datetime | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"from": rfc3339(self.start) if self.start else None,
                "to": rfc3339(self.end) if self.end else None}


@dataclass(frozen=True, slots=True)
class ViewQuery:
    """One page of one view, as a request asked for it."""

    view: View
    time: TimeRange
    values: Mapping[str, list[Any]]  # filter param -> accepted values
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    descending: bool = False
    #: ``format`` as given (json or csv), None when not given
    fmt: str | None = None

    def filters_json(self) -> dict[str, Any]:
        out: dict[str, Any] = self.time.as_json() if self.view.time_column else {}
        for f in self.view.filters:
            vals = self.values.get(f.param)
            out[f.param] = [jsonable(v) for v in vals] if vals else None
        out.update(limit=self.limit, offset=self.offset, order="desc" if self.descending else "asc")
        return out


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    vals = params.get(name)
    if not vals:
        return None
    if len(vals) > 1:
        raise ValueError("given more than once")
    return vals[0]


#: a range of days may be this much longer than its days (a day the clocks go back)
_DST_SLACK: Final = timedelta(hours=1)


def parse_time_range(params: Mapping[str, list[str]], errors: dict[str, str],
                     max_days: int | None = None, zone: tzinfo = UTC) -> TimeRange:
    got: dict[str, datetime | None] = {}
    for name in ("from", "to"):
        try:
            raw = _single(params, name)
            got[name] = parse_instant(raw, zone) if raw is not None else None
        except ValueError as exc:
            errors[name] = str(exc)
    start, end = got.get("from"), got.get("to")
    if start and end and end <= start:
        errors["to"] = f"must be later than from ({rfc3339(start)})"
    elif max_days and start and end and end - start > timedelta(days=max_days) + _DST_SLACK:
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


def parse_view_query(view: View, items: Iterable[tuple[str, str]], zone: tzinfo = UTC) -> ViewQuery:
    """The query of ``/api/v1/<view>``, or a :class:`BadRequest` naming every bad parameter
    (a date in ``from``/``to`` is its 00:00 in ``zone``, the business time zone)."""
    params, errors = check_query(items, view.params, view.name)
    time = parse_time_range(params, errors, zone=zone) if view.time_column else TimeRange()
    values: dict[str, list[Any]] = {}
    for f in view.filters:
        if f.param in params:
            try:
                values[f.param] = parse_filter(f, params[f.param])
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
    fmt = parse_format(params, errors)
    if errors:
        raise BadRequest(errors)
    return ViewQuery(view, time, values, limit, offset, descending, fmt)


def parse_format(params: Mapping[str, list[str]], errors: dict[str, str]) -> str | None:
    """``format``: json or csv; None when not given (then the Accept header decides)."""
    try:
        raw = _single(params, "format")
        if raw is not None and raw not in FORMATS:
            raise ValueError(f"unknown format {shown(raw)} (one of {', '.join(FORMATS)})")
        return raw
    except ValueError as exc:
        errors["format"] = str(exc)
        return None


@dataclass(frozen=True, slots=True)
class Scope:
    """What a summary or a report covers."""

    time: TimeRange
    channels: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    #: the business time zone its days are cut in
    zone: tzinfo = UTC

    def as_json(self) -> dict[str, Any]:
        return {**self.time.as_json(), "channel": self.channels or None,
                "reason": self.reasons or None, "team": self.teams or None}


def parse_scope(items: Iterable[tuple[str, str]], now: datetime | None = None,
                default_days: int = 7, zone: tzinfo = UTC) -> Scope:
    """Summary parameters: from, to (default: the last ``default_days`` days of ``zone``,
    the business time zone, today included) or period (:data:`PERIODS`), channel, reason,
    team."""
    params, errors = check_query(items, SUMMARY_PARAMS, "the summary")
    return scope_of(params, errors, now, default_days, zone)


def scope_of(params: Mapping[str, list[str]], errors: dict[str, str], now: datetime | None = None,
             default_days: int = 7, zone: tzinfo = UTC) -> Scope:
    """The :class:`Scope` of checked parameters (:func:`check_query`), or a
    :class:`BadRequest` naming every bad one, those already in ``errors`` too."""
    if not 1 <= default_days <= SUMMARY_MAX_DAYS:
        raise ValueError(f"default_days must be from 1 to {SUMMARY_MAX_DAYS}")
    time = parse_time_range(params, errors, SUMMARY_MAX_DAYS, zone)
    period: tuple[int, int] | None = None
    try:
        raw = _single(params, "period")
        if raw is not None:
            if raw not in PERIODS:
                raise ValueError(f"unknown period {shown(raw)} (one of {', '.join(PERIODS)})")
            if "from" in params or "to" in params:
                raise ValueError("give either period or from/to, not both")
            period = PERIODS[raw]
    except ValueError as exc:
        errors["period"] = str(exc)
    values: dict[str, list[Any]] = {}
    for f in SUMMARY_FILTERS:
        if f.param in params:
            try:
                values[f.param] = parse_filter(f, params[f.param])
            except ValueError as exc:
                errors[f.param] = str(exc)
    if errors:
        raise BadRequest(errors)
    # Defaults stay in [TIME_MIN, TIME_MAX]: from alone runs to at most TIME_MAX, to
    # alone goes back to at least TIME_MIN (both are at most 92 days from a bounded
    # instant, so no arithmetic here can leave the calendar).
    span = timedelta(days=default_days)
    start, end = time.start, time.end
    today = today_in(zone, min(max((now or datetime.now(UTC)).astimezone(UTC),
                                   TIME_MIN + timedelta(days=30)), TIME_MAX - timedelta(days=2)))
    if period is not None:
        back, days = period
        start = midnight_in(today - timedelta(days=back), zone)
        end = midnight_in(today - timedelta(days=back - days), zone)
    if start is None and end is None:
        end = midnight_in(today + timedelta(days=1), zone)
    if end is None:
        assert start is not None
        end = min(start + span, TIME_MAX)
    if start is None:
        start = max(end - span, TIME_MIN)
        if start >= end:
            raise BadRequest({"to": f"must be later than {rfc3339(TIME_MIN)}: a time must lie "
                                    f"{TIME_RANGE_WORDS}"})
    if end - start > timedelta(days=SUMMARY_MAX_DAYS) + _DST_SLACK:
        raise BadRequest({"from": f"the range may cover at most {SUMMARY_MAX_DAYS} days"})
    return Scope(TimeRange(start, end), values.get("channel", []), values.get("reason", []),
                 values.get("team", []), zone)


def midnight(d: date) -> datetime:
    """00:00 UTC of day ``d`` (a day of the business time zone starts at
    :func:`leancrm_waste.read.timezone.midnight_in`)."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def days_of(time: TimeRange, zone: tzinfo = UTC) -> list[date]:
    """The day of ``zone`` that ``from`` falls in and every following day that starts
    before ``to``."""
    assert time.start and time.end
    d, out = day_of(time.start, zone), []
    while midnight_in(d, zone) < time.end:
        out.append(d)
        d += timedelta(days=1)
    return out


@dataclass(frozen=True, slots=True)
class BreakdownQuery:
    """``/api/v1/breakdown``: the wastes of ``wastes`` (all when empty) over ``scope``,
    by ``by`` (channel, reason or team)."""

    scope: Scope
    by: str
    wastes: list[str] = field(default_factory=list)
    fmt: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {**self.scope.as_json(), "waste": self.wastes or None}


def parse_breakdown(items: Iterable[tuple[str, str]], now: datetime | None = None,
                    zone: tzinfo = UTC) -> BreakdownQuery:
    """The breakdown's parameters: ``by`` (required, one of :data:`BREAKDOWN_BY`),
    ``waste`` (any of the seven), and the summary's."""
    params, errors = check_query(items, BREAKDOWN_PARAMS, "the breakdown")
    by = ""
    try:
        raw = _single(params, "by")
        if raw is None:
            raise ValueError(f"required: what to break the wastes down by (one of {', '.join(BREAKDOWN_BY)})")
        if raw not in BREAKDOWN_BY:
            raise ValueError(f"cannot break down by {shown(raw)} (one of {', '.join(BREAKDOWN_BY)})")
        by = raw
    except ValueError as exc:
        errors["by"] = str(exc)
    wastes: list[str] = []
    if "waste" in params:
        try:
            wastes = parse_filter(F_WASTE, params["waste"])
        except ValueError as exc:
            errors["waste"] = str(exc)
    fmt = parse_format(params, errors)
    scope = scope_of(params, errors, now, zone=zone)
    return BreakdownQuery(scope, by, wastes, fmt)
