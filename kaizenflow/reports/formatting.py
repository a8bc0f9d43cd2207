"""Human formatting of figures (durations, shares, deltas, times) shared by map and report.

Every figure a reader sees goes through one of these helpers so that the map, the cards
and the tables speak the same units ("3.2 h", "4.1 d", "82.4 %", "+1.2 pp"). Negative
numbers use the typographic minus sign (U+2212) so that signs line up with plus signs.
"""

from __future__ import annotations

from datetime import UTC, datetime

MINUS = "\u2212"
NOT_AVAILABLE = "n/a"


def _sign(value: float) -> str:
    return "+" if value > 0 else MINUS if value < 0 else "\u00b1"


def format_duration(hours: float | None) -> str:
    """Hours as minutes below an hour, hours below a day, days above: "45 min", "3.2 h", "4.1 d"."""
    if hours is None:
        return NOT_AVAILABLE
    magnitude = abs(hours)
    prefix = MINUS if hours < 0 else ""
    if magnitude < 1:
        return f"{prefix}{magnitude * 60:.0f} min"
    if magnitude < 24:
        return f"{prefix}{magnitude:.1f} h"
    return f"{prefix}{magnitude / 24:.1f} d"


def format_duration_delta(hours: float | None) -> str:
    """A change of duration with an explicit sign, "+3.2 h"; zero shows as "±0 min"."""
    if hours is None:
        return NOT_AVAILABLE
    return _sign(hours) + format_duration(abs(hours))


def format_seconds(seconds: float | None) -> str:
    """Stage timings: milliseconds for quick stages, seconds, then minutes and hours."""
    if seconds is None:
        return NOT_AVAILABLE
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_percent(share: float | None, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage with a space before the sign: "82.4 %"."""
    if share is None:
        return NOT_AVAILABLE
    return f"{share * 100:.{digits}f} %"


def format_pp_delta(delta_share: float | None) -> str:
    """A change of a share in percentage points, "+1.2 pp", because "+1.2 %" would be ambiguous."""
    if delta_share is None:
        return NOT_AVAILABLE
    points = round(delta_share * 100, 1)
    return f"{_sign(points)}{abs(points):.1f} pp"


def format_count(value: int | None) -> str:
    """An integer with thousands separators: "12,345"."""
    if value is None:
        return NOT_AVAILABLE
    return f"{value:,}"


def format_count_delta(delta: int | None) -> str:
    """A change of a count with an explicit sign: "+12", "−3", "±0"."""
    if delta is None:
        return NOT_AVAILABLE
    return f"{_sign(delta)}{abs(delta):,}"


def format_fitness(value: float | None) -> str:
    """Fitness with three decimals, the precision at which runs differ in practice."""
    return NOT_AVAILABLE if value is None else f"{value:.3f}"


def format_fitness_delta(delta: float | None) -> str:
    """A change of fitness, "+0.012"."""
    if delta is None:
        return NOT_AVAILABLE
    rounded = round(delta, 3)
    return f"{_sign(rounded)}{abs(rounded):.3f}"


def as_utc(moment: datetime) -> datetime:
    """The moment in UTC; naive datetimes are taken to be UTC already, as the event store keeps."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_utc(moment: datetime | None) -> str:
    """A moment as "2024-05-01 02:13 UTC": readers in several time zones share one report."""
    if moment is None:
        return NOT_AVAILABLE
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def humanize(code: str) -> str:
    """A vocabulary word such as "wrong_order" as "Wrong order"."""
    words = code.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


#: Deviation kinds as an owner says them; acronyms stay capitals ("SLA breach", not "Sla breach").
KIND_WORDS = {
    "skipped": "Skipped",
    "inserted": "Inserted",
    "wrong_order": "Wrong order",
    "repeated": "Repeated",
    "sla_breach": "SLA breach",
    "segregation_of_duties": "Segregation of duties",
    "missing_activity": "Missing activity",
    "forbidden_activity": "Forbidden activity",
    "rule_breach": "Rule breach",
}


def kind_words(kind: str) -> str:
    """A deviation kind in words: "SLA breach", "Segregation of duties", "Wrong order"."""
    return KIND_WORDS.get(kind, humanize(kind))


#: How a sentence names the cases that have an attribute value, for attributes whose meaning
#: is known; any other attribute reads "where <attribute> is <value>".
_PLACES = {"plant": "at plant", "site": "at site", "company_code": "in company code",
           "supplier": "with supplier", "vendor": "with vendor", "customer": "for customer",
           "material": "for material", "resource": "when done by", "org:resource": "when done by",
           "department": "in department", "region": "in region", "country": "in country"}


def where(attribute: str, value: str) -> str:
    """Which cases an attribute value picks out, in words: "at plant P-03", "with supplier S-005"."""
    place = _PLACES.get(attribute.strip().lower())
    if place:
        return f"{place} {value}"
    return f"where {attribute.replace('_', ' ')} is {value}"


def times_as_often(lift: float) -> str:
    """A lift as words: "3.9 times as often", "twice as often"; below 1, "less often"."""
    if lift >= 1.95 and lift < 2.05:
        return "twice as often"
    if lift >= 1.05:
        return f"{lift:.1f} times as often"
    if lift > 0.95:
        return "about as often"
    return "less often"


def cause_sentence(attribute: str, value: str, lift: float) -> str:
    """A root cause in plain words: "happens 3.9 times as often at plant P-03"."""
    return f"happens {times_as_often(lift)} {where(attribute, value)}"


def iso_utc(moment: datetime) -> str:
    """The moment as ISO 8601 in UTC ("2024-05-01T02:13:00Z"), for a <time datetime> attribute."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(text: str) -> datetime | None:
    """An ISO timestamp as a source watermark stores it, or None when the text is not one."""
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def describe_position(position: str) -> tuple[str, datetime | None]:
    """Where a source was read up to, as words and a moment: never the raw watermark string.

    The run records a watermark as "<column> > <value>": with a timestamp value this reads
    ("rows with received_at after", the moment), the template writing the moment in the
    reader's terms; a number reads as a row position. Anything else ("full read each run",
    a file read whole) is already words and comes back as it is, without a moment.
    """
    column, separator, value = position.partition(" > ")
    if not separator:
        return position.strip() or NOT_AVAILABLE, None
    moment = parse_moment(value)
    if moment is not None:
        return f"rows with {column.strip()} after", moment
    stripped = value.strip()
    if stripped.lstrip("-").isdigit():
        return f"rows with {column.strip()} above {int(stripped):,}", None
    return f"rows with {column.strip()} after {stripped}", None
