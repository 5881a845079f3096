"""The business time zone: where operations' days (and the dashboard's hours) are cut.

One IANA name (``LEANCRM_BUSINESS_TIMEZONE``, default ``UTC``; read by
:class:`leancrm_waste.settings.BusinessTimeSettings`), validated here with
:mod:`zoneinfo`. The service writes it into its store's one-row settings table at start,
where the views of schema ``waste`` read it (contract section 6: ``day`` columns are
days of this zone), so ``leancrm_ops`` reading the views in psql sees the same days as
the API, the dashboard and the huddle, which cut theirs with the functions below.

Hours stay UTC hours (capacity is projected per UTC hour): for every zone whose offset
from UTC is a whole number of hours — nearly all — they are the zone's hours too.
Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

#: the default business time zone
DEFAULT_ZONE_NAME: Final = "UTC"
#: the setting that names it
SETTING: Final = "LEANCRM_BUSINESS_TIMEZONE"


def zone_named(name: str) -> ZoneInfo:
    """The zone of an IANA name (``Europe/Berlin``, ``America/New_York``, ``UTC``), or a
    ValueError saying what is wrong (an offset such as ``+01:00`` is not a zone: its
    days would ignore summer time)."""
    text = name.strip()
    if not text:
        raise ValueError("empty: give an IANA time zone name such as Europe/Berlin, or UTC")
    if len(text) > 64 or text.startswith(("/", ".")) or ".." in text or "\\" in text:
        raise ValueError(f"{text[:64]!r} is not an IANA time zone name (e.g. Europe/Berlin)")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        hint = ""
        lowered = {z.lower(): z for z in available_timezones()}
        if text.lower() in lowered:
            hint = f" (did you mean {lowered[text.lower()]}?)"
        raise ValueError(f"{text!r} is not an IANA time zone name (e.g. Europe/Berlin){hint}") from None


def midnight_in(d: date, zone: tzinfo = UTC) -> datetime:
    """The instant (UTC) at which day ``d`` starts in ``zone`` (the first instant of the
    day, also on a day whose midnight is skipped by a change to summer time)."""
    local = datetime.combine(d, time(0), tzinfo=zone)
    start = local.astimezone(UTC)
    # fold-less local midnight that does not exist (rare): the first instant of the day
    while start.astimezone(zone).date() < d:
        start += timedelta(minutes=30)
    return start


def day_bounds(d: date, zone: tzinfo = UTC) -> tuple[datetime, datetime]:
    """``[start, end)`` of day ``d`` in ``zone``, as UTC instants (23 or 25 hours long on a
    day the clocks change)."""
    return midnight_in(d, zone), midnight_in(d + timedelta(days=1), zone)


def day_of(instant: datetime, zone: tzinfo = UTC) -> date:
    """The day of ``zone`` that ``instant`` falls on."""
    return instant.astimezone(zone).date()


def today_in(zone: tzinfo = UTC, now: datetime | None = None) -> date:
    """Today in ``zone`` (``now``: the instant it is, default the clock's)."""
    return day_of(now or datetime.now(UTC), zone)


def first_day_from(instant: datetime, zone: tzinfo = UTC) -> date:
    """The first day of ``zone`` whose start is at or after ``instant``."""
    d = day_of(instant, zone)
    return d if midnight_in(d, zone) == instant.astimezone(UTC) else d + timedelta(days=1)


def zone_name(zone: tzinfo) -> str:
    """The IANA name of ``zone`` (``UTC`` for :data:`datetime.UTC`)."""
    return getattr(zone, "key", None) or ("UTC" if zone is UTC else str(zone))
