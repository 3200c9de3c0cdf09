"""Unix times as people read them, without arrow (which costs ~40 ms to import).

`humanize(t)` gives what arrow's `Arrow.humanize()` gives ("just now", "5 minutes ago",
"in 2 days"); `local(t)` is the local wall-clock time; `iso(t)` is ISO 8601 in UTC, as
`arrow.get(t).isoformat()`.
"""

from __future__ import annotations

import time

MINUTE, HOUR, DAY, WEEK, MONTH, YEAR = 60, 3600, 86400, 604800, 2635200.0, 31536000


def humanize(seconds: float, now: float | None = None) -> str:
    """`time.time() - 300` -> "5 minutes ago": how long ago (or ahead) a Unix time is, in words."""
    now = time.time() if now is None else now
    delta = int(round(seconds - now))
    distance = abs(delta)
    if distance < 10:
        return "just now"
    if distance < MINUTE:
        words = f"{distance} seconds"
    elif distance < 2 * MINUTE:
        words = "a minute"
    elif distance < HOUR:
        words = f"{max(distance // MINUTE, 2)} minutes"
    elif distance < 2 * HOUR:
        words = "an hour"
    elif distance < DAY:
        words = f"{max(distance // HOUR, 2)} hours"
    elif distance < 2 * DAY:
        words = "a day"
    elif distance < WEEK:
        words = f"{max(distance // DAY, 2)} days"
    else:
        months = _calendar_months(min(seconds, now), max(seconds, now))
        if months >= 1 and distance < YEAR:
            words = "a month" if months == 1 else f"{months} months"
        elif distance < 2 * WEEK:
            words = "a week"
        elif distance < MONTH:
            words = f"{max(distance // WEEK, 2)} weeks"
        elif distance < 2 * YEAR:
            words = "a year"
        else:
            words = f"{max(distance // YEAR, 2)} years"
    return f"in {words}" if delta > 0 else f"{words} ago"


def _calendar_months(earlier: float, later: float) -> int:
    """Whole calendar months between two times in UTC (more than 14 days left over count as one), at most 12."""
    a, b = time.gmtime(earlier), time.gmtime(later)
    months = (b.tm_year - a.tm_year) * 12 + b.tm_mon - a.tm_mon
    if (b.tm_mday, b.tm_hour, b.tm_min, b.tm_sec) < (a.tm_mday, a.tm_hour, a.tm_min, a.tm_sec):
        months -= 1
    year, month = divmod(a.tm_year * 12 + a.tm_mon - 1 + months, 12)
    import calendar

    day = min(a.tm_mday, calendar.monthrange(year, month + 1)[1])
    anchor = calendar.timegm((year, month + 1, day, a.tm_hour, a.tm_min, a.tm_sec)) + earlier % 1
    if (later - anchor) // DAY > 14:
        months += 1
    return min(months, 12)


def local(seconds: float, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(pattern, time.localtime(seconds))


def iso(seconds: float | None) -> str | None:
    """ISO 8601 in UTC, e.g. `2026-12-04T01:23:03.250000+00:00`; None stays None."""
    if seconds is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()
