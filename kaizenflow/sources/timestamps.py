"""Timestamp text of tabular files: one detected format a column, parsed at once, never guessed per row."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from kaizenflow.sources.mapping import SourceError

#: Turns a 0-based row position into the place a person finds it: "line 7" (CSV) or "row 6" (Parquet).
Locate = Callable[[int], str]

_ISO_BODY = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
_SLASH = r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"


@dataclass(frozen=True)
class _Format:
    name: str
    pattern: re.Pattern[str]


# Order matters only for the first value: the families do not overlap.
_ISO_AWARE = _Format("ISO 8601 with UTC offset", re.compile(_ISO_BODY + r"(?:Z|[+-]\d{2}(?::?\d{2})?)"))
_ISO_NAIVE = _Format("ISO 8601 without offset", re.compile(_ISO_BODY))
_SLASHED = _Format("dd/mm/yyyy or mm/dd/yyyy [HH:MM[:SS]]", re.compile(_SLASH))
_EPOCH = _Format("epoch seconds", re.compile(r"\d{9,10}(?:\.\d+)?"))
_FORMATS = (_ISO_AWARE, _ISO_NAIVE, _SLASHED, _EPOCH)


def parse_timestamps(
    values: pd.Series, where: str, field: str, locate: Locate, strptime_format: str | None = None
) -> pd.Series:
    """Datetimes of a text column, naive (read later in the source's zone) or UTC when the text says so.

    The format is detected on the first value and every other value must have it: a column that
    mixes ``05/01/2024`` with ``2024-01-05`` is refused at the first row that differs rather than
    parsed row by row into dates nobody can trust. Day-first versus month-first slashed dates are
    decided by a component above 12; when no value tells, the caller must give ``strptime_format``.
    """
    text = values.astype("string").str.strip()
    missing = text.isna() | (text == "")
    if missing.any():
        position = _first(missing)
        raise SourceError(f"{where}: {locate(position)}, field {field}: missing timestamp")
    if strptime_format is not None:
        parsed = pd.to_datetime(text, format=strptime_format, errors="coerce")
        _refuse_unparsed(parsed, text, where, field, locate, f"the format {strptime_format!r}")
        return parsed
    detected = next((f for f in _FORMATS if f.pattern.fullmatch(str(text.iloc[0]))), None)
    if detected is None:
        raise SourceError(
            f"{where}: {locate(0)}, field {field}: {text.iloc[0]!r} is not a recognised timestamp "
            f"(ISO 8601, dd/mm/yyyy HH:MM[:SS], mm/dd/yyyy HH:MM[:SS] or epoch seconds); "
            "pass timestamp_format (a strptime pattern) for other layouts"
        )
    matches = text.str.fullmatch(detected.pattern.pattern)
    if not matches.all():
        position = _first(~matches)
        raise SourceError(
            f"{where}: {locate(position)}, field {field}: {text.iloc[position]!r} does not match the "
            f"format of the column ({detected.name}, detected on {locate(0)}); mixed formats are refused"
        )
    if detected is _EPOCH:
        return pd.to_datetime(pd.to_numeric(text), unit="s", utc=True)
    if detected is _SLASHED:
        return _parse_slashed(text, where, field, locate)
    try:
        return pd.to_datetime(text, format="ISO8601", utc=detected is _ISO_AWARE)
    except (ValueError, OverflowError) as error:
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        _refuse_unparsed(parsed, text, where, field, locate, f"a valid {detected.name} time")
        raise SourceError(f"{where}: field {field}: timestamps cannot be parsed ({error})") from None


def _parse_slashed(text: pd.Series, where: str, field: str, locate: Locate) -> pd.Series:
    parts = text.str.extract(_SLASH).apply(pd.to_numeric)
    first, second = parts[0], parts[1]
    day_first, month_first = first > 12, second > 12
    if day_first.any() and month_first.any():
        a, b = _first(day_first), _first(month_first)
        raise SourceError(
            f"{where}: {locate(max(a, b))}, field {field}: {text.iloc[max(a, b)]!r} puts the "
            f"{'month' if b > a else 'day'} first while {locate(min(a, b))} ({text.iloc[min(a, b)]!r}) "
            "does the opposite; mixed formats are refused"
        )
    if not day_first.any() and not month_first.any():
        raise SourceError(
            f"{where}: field {field}: slashed dates such as {text.iloc[0]!r} ({locate(0)}) could be "
            "dd/mm or mm/dd (no day above 12); pass timestamp_format, e.g. '%d/%m/%Y %H:%M'"
        )
    day, month = (first, second) if day_first.any() else (second, first)
    components = pd.DataFrame(
        {"year": parts[2], "month": month, "day": day,
         "hour": parts[3].fillna(0), "minute": parts[4].fillna(0), "second": parts[5].fillna(0)}
    )
    parsed = pd.to_datetime(components, errors="coerce")
    _refuse_unparsed(parsed, text, where, field, locate, "a calendar date")
    return parsed


def _refuse_unparsed(
    parsed: pd.Series, text: pd.Series, where: str, field: str, locate: Locate, expected: str
) -> None:
    bad = parsed.isna()
    if bad.any():
        position = _first(bad)
        raise SourceError(
            f"{where}: {locate(position)}, field {field}: {text.iloc[position]!r} is not {expected}"
        )


def iso_utc(values: pd.Series) -> pd.Series:
    """ISO 8601 text in UTC (``2024-01-05T09:00:00+00:00``), the form attributes carry times in."""
    utc = values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    text = utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.removesuffix(".000000") + "+00:00"
    return text.astype("string").where(values.notna(), pd.NA)


def _first(mask: pd.Series) -> int:
    return int(mask.to_numpy().nonzero()[0][0])
