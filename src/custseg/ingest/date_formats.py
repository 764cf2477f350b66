"""How dates are written in a file: the ``date_format`` of an ``[inputs.<key>]`` table.

A format is one of the names below or a strftime format (``%d.%m.%Y``). The names cover the
common exports exactly, without strftime's leniency (``%Y%m%d`` alone would read ``2019015``):

=============  =====================================================================
``M/D/YYYY``   month/day/year, leading zeros optional (the default, Marketing Insights)
``YYYY-MM-DD`` ISO date, leading zeros optional (``2019-01-05``)
``YYYYMMDD``   eight digits (``20190105``), as many public transaction logs write them
``ISO``        an ISO date, or an ISO date and time without a time zone
               (``2019-01-05``, ``2019-01-05 13:45``, ``2019-01-05T13:45:07.250``): the
               calendar date is kept
=============  =====================================================================

A typed Parquet DATE or TIMESTAMP column needs none (:mod:`custseg.ingest.files`).
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb

from custseg.errors import ConfigError
from custseg.ingest.layout import DEFAULT_DATE_FORMAT
from custseg.sql import quote_literal

#: Named formats: name -> (strftime format of the date part, regular expression the whole
#: value must match, or None when the strftime format alone decides).
NAMED_DATE_FORMATS: dict[str, tuple[str, str | None]] = {
    "M/D/YYYY": (DEFAULT_DATE_FORMAT, None),
    "YYYY-MM-DD": ("%Y-%m-%d", r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"),
    "YYYYMMDD": ("%Y%m%d", r"[0-9]{8}"),
    "ISO": (
        "%Y-%m-%d",
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?",
    ),
}
# A time zone would make the calendar day depend on the session's time zone.
_TIME_ZONE_DIRECTIVES = re.compile(r"%-?[zZ]")
# Dates the format is checked on: month and day both ambiguous and not, one and two digits.
_PROBE_DATES = (dt.date(2019, 11, 23), dt.date(2021, 2, 9))


def named_format(date_format: str) -> str | None:
    """The name ``date_format`` spells (case ignored), or None for a strftime format."""
    wanted = date_format.strip().upper()
    return next((name for name in NAMED_DATE_FORMATS if name == wanted), None)


def normalize_date_format(date_format: str, where: str) -> str:
    """The format to keep: a name in its usual spelling, M/D/YYYY as the default's strftime.

    Raises
    ------
    ConfigError
        An unknown name, or a strftime format that cannot hold a whole date.
    """
    name = named_format(date_format)
    if name is not None:
        return NAMED_DATE_FORMATS[name][0] if name == "M/D/YYYY" else name
    if "%" not in date_format:
        raise ConfigError(
            f"{where}: {date_format!r} is not a date format custseg knows; write one of "
            f"{', '.join(repr(n) for n in NAMED_DATE_FORMATS)} or strftime codes (e.g. "
            "'%d.%m.%Y' for 23.11.2019, '%Y-%m-%d %H:%M:%S' for a timestamp)."
        )
    check_date_format(date_format, where)
    return date_format


def parsed_date_sql(text: str, date_format: str) -> str:
    """SQL (DuckDB) of the timestamp the text expression ``text`` means, null when it does not
    match ``date_format`` (a name of :data:`NAMED_DATE_FORMATS` or a strftime format)."""
    strftime_format, shape = NAMED_DATE_FORMATS.get(date_format, (date_format, None))
    fmt = quote_literal(strftime_format)
    if shape is None:
        return f"try_strptime({text}, {fmt})"
    date_part = f"left({text}, 10)" if date_format == "ISO" else text
    return (
        f"case when regexp_full_match({text}, {quote_literal(shape)}) "
        f"then try_strptime({date_part}, {fmt}) end"
    )


def check_date_format(date_format: str, where: str) -> None:
    """Check a strftime format with DuckDB: it must read back year, month and day.

    Raises
    ------
    ConfigError
        The format has a time zone, is not one DuckDB understands, or loses part of the date.
    """
    if _TIME_ZONE_DIRECTIVES.search(date_format):
        raise ConfigError(
            f"{where}: {date_format!r} has a time zone (%z or %Z); the calendar day would then "
            "depend on the session's time zone. Export local dates or times without the zone."
        )
    fmt = quote_literal(date_format)
    with duckdb.connect() as con:
        for day in _PROBE_DATES:
            try:
                (parsed,) = con.execute(
                    f"select cast(try_strptime(strftime(date '{day.isoformat()}', {fmt}), "
                    f"{fmt}) as date)"
                ).fetchone()
            except duckdb.Error as exc:
                raise ConfigError(
                    f"{where}: {date_format!r} is not a date format DuckDB understands "
                    f"({str(exc).strip().splitlines()[0]}). Write it with strftime codes, e.g. "
                    "'%Y-%m-%d' for 2019-11-23 or '%d.%m.%Y' for 23.11.2019."
                ) from exc
            if parsed != day:
                written = f"{day:%Y-%m-%d}"
                raise ConfigError(
                    f"{where}: {date_format!r} does not hold a whole date ({written} written "
                    f"with it reads back as {parsed}); it needs the year (%Y), the month (%m or "
                    "%b) and the day (%d)."
                )
