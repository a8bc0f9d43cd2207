"""Timestamp text of tabular files: one detected format a column, parsed at once, never guessed per row."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
#: The largest UTC offset any time zone uses (Line Islands, +14:00); anything beyond is a typo.
MAX_UTC_OFFSET = timedelta(hours=14)
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})$")
_XS_PARTS = re.compile(r"(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?")


def parse_xs_datetime(text: str) -> datetime:
    """An XES date (xs:dateTime, or another ISO 8601 form pm4py reads) as an aware UTC datetime.

    Naive times are read as UTC, as pm4py reads them. Raises ValueError whose message completes
    "'TEXT' ..." for impossible dates (2024-13-45), times (25:00) and offsets beyond +-14:00.
    """
    value = text.strip()
    match = _XS_PARTS.fullmatch(value)
    if match is None:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("is not an xs:dateTime (e.g. 2024-01-05T09:00:00+01:00)") from None
    else:
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        if not 1 <= int(month) <= 12:
            raise ValueError(f"is not a valid timestamp: month {int(month)} does not exist")
        try:
            parsed = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
        except ValueError as error:
            raise ValueError(f"is not a valid timestamp: {error}") from None
        if zone is not None:
            offset = _offset(zone)
            parsed = parsed.replace(tzinfo=UTC) - offset
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    utc_offset = parsed.utcoffset() or timedelta(0)
    if abs(utc_offset) > MAX_UTC_OFFSET:
        raise ValueError(f"is not a valid timestamp: the UTC offset {value[-6:]} is beyond +-14:00, the "
                         "largest any time zone uses")
    return parsed.astimezone(UTC)


def _offset(zone: str) -> timedelta:
    if zone == "Z":
        return timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if minutes > 59:
        raise ValueError(f"is not a valid timestamp: the UTC offset {zone} has {minutes} minutes")
    offset = sign * timedelta(hours=hours, minutes=minutes)
    if abs(offset) > MAX_UTC_OFFSET:
        raise ValueError(f"is not a valid timestamp: the UTC offset {zone} is beyond +-14:00, the largest "
                         "any time zone uses")
    return offset


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
    if detected is _ISO_AWARE:
        _refuse_offsets(text, where, field, locate)
    try:
        return pd.to_datetime(text, format="ISO8601", utc=detected is _ISO_AWARE)
    except (ValueError, OverflowError) as error:
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        _refuse_unparsed(parsed, text, where, field, locate, f"a valid {detected.name} time")
        raise SourceError(f"{where}: field {field}: timestamps cannot be parsed ({error})") from None


def _refuse_offsets(text: pd.Series, where: str, field: str, locate: Locate) -> None:
    """UTC offsets beyond +-14:00 or with more than 59 minutes are typos pandas would accept."""
    parts = text.str.extract(_OFFSET.pattern)
    hours, minutes = pd.to_numeric(parts[1]), pd.to_numeric(parts[2])
    bad = (hours * 60 + minutes > MAX_UTC_OFFSET.total_seconds() // 60) | (minutes > 59)
    bad = bad.fillna(False).astype(bool)
    if bad.any():
        position = _first(bad)
        raise SourceError(
            f"{where}: {locate(position)}, field {field}: {text.iloc[position]!r} has a UTC offset beyond "
            "+-14:00 (or of more than 59 minutes), which no time zone uses"
        )


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
    moments = pa.array(utc.dt.tz_localize(None).to_numpy(dtype="datetime64[us]"), type=pa.timestamp("us"))
    # Arrow's %S carries the unit's fraction ("05.000000"); whole seconds drop it, as before
    text = pc.replace_substring_regex(pc.strftime(moments, format="%Y-%m-%dT%H:%M:%S"), r"\.0{6}$", "")
    text = pc.binary_join_element_wise(text, "+00:00", "")
    return pd.Series(pd.arrays.ArrowStringArray(text), index=values.index)


def _first(mask: pd.Series) -> int:
    return int(mask.to_numpy().nonzero()[0][0])
