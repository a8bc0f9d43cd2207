"""The one configuration model: a YAML file validated once at the door, errors naming the key.

Sources and sinks are discriminated unions (a SQL or a file source; a webhook, GitHub, Jira or
Apprise sink), and every model translates itself into the domain object the rest of the code
knows (an event mapping, a rule spec, a raising policy, a sink). Every value is bounded here, so
a night never fails half-way on a number it accepted at load.

The domain modules are imported inside the methods that build their objects: loading a
configuration (every CLI call) imports neither pandas nor SQLAlchemy nor Prefect.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    from kaizenflow.conformance.rules import RuleSpec
    from kaizenflow.improvement.raising import RaisingPolicy
    from kaizenflow.sinks import LinkStore, Sink
    from kaizenflow.sinks.pages import WebPages
    from kaizenflow.sources.mapping import EventMapping
    from kaizenflow.sources.sql import Increment
    from kaizenflow.storage.staging import Extracted
    from kaizenflow.storage.state import LifecyclePolicy


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid; the message names the key."""


class _AtKey(ValueError):
    """A validation error found above the key it is about: it carries that key's path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


# Bounds. Every duration ends up in a pandas Timedelta or a datetime arithmetic (at most
# 292 years), every count in a 64-bit SQL integer or a memory budget.
MAX_DAYS = 36_500  # a hundred years of history
MAX_HOURS = MAX_DAYS * 24
MAX_LOOKBACK_HOURS = 24 * 366 * 10  # a re-read margin of ten years is already a full read
MAX_SECONDS = 7 * 24 * 3600  # waits and time budgets: a week
MAX_COUNT = 1_000_000_000  # case counts and thresholds
MAX_RUNS = 100_000  # runs: nearly three centuries of nights
MAX_CHUNK_ROWS = 50_000_000  # rows held in memory at once
MAX_WORKERS = 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Connection(_Strict):
    """A database to extract from. The URL is given in clear only when it holds no secret."""

    url: str | None = None
    url_env: str | None = Field(
        default=None, description="name of an environment variable holding the SQLAlchemy URL"
    )
    url_secret: str | None = Field(
        default=None, description="name of a Prefect Secret block holding the SQLAlchemy URL"
    )

    @model_validator(mode="after")
    def _one_url(self) -> Connection:
        given = [v for v in (self.url, self.url_env, self.url_secret) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'url', 'url_env' or 'url_secret'")
        if self.url is not None:
            problem = url_problem(self.url, in_clear=True)
            if problem:
                raise _AtKey("url", problem)
        return self

    def resolve_url(self, base_dir: Path) -> str:
        """The SQLAlchemy URL; relative SQLite paths are taken from the configuration's folder."""
        if self.url_env is not None:
            value = os.environ.get(self.url_env)
            if not value:
                raise ConfigError(f"environment variable {self.url_env} (url_env) is not set")
            url, where = value, f"environment variable {self.url_env} (url_env)"
        elif self.url_secret is not None:
            url, where = _prefect_secret(self.url_secret), f"Prefect Secret block {self.url_secret!r}"
        else:
            url, where = cast(str, self.url), "url"
        problem = url_problem(url, in_clear=False)
        if problem:
            raise ConfigError(f"{where}: {problem}")
        return _absolute_sqlite(url, base_dir)


def _prefect_secret(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        block = cast(Secret[str], Secret.load(name))  # synchronous outside an event loop
        value = block.get()
    except ValueError as error:
        raise ConfigError(f"Prefect Secret block {name!r} (url_secret) cannot be loaded: {error}") from None
    return str(value)


#: Query-string parameters that carry a credential (``?password=...`` is a password in clear too).
_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|credential|api_?key", re.IGNORECASE)
#: The package to install for a driver SQLAlchemy imports by default.
_DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary (or write postgresql+psycopg:// to use psycopg 3)",
    "psycopg": "'psycopg[binary]'",
    "MySQLdb": "mysqlclient (or write mysql+pymysql:// to use PyMySQL)",
    "pymysql": "PyMySQL",
    "pg8000": "pg8000",
    "asyncpg": "asyncpg",
    "oracledb": "oracledb",
    "cx_Oracle": "oracledb (and write oracle+oracledb://)",
    "pyodbc": "pyodbc",
    "mariadb": "mariadb",
    "pymssql": "pymssql",
}


def url_problem(url: str, *, in_clear: bool) -> str | None:
    """Why a database URL cannot be used, or None. The URL itself is never repeated: it may hold
    a password. ``in_clear`` URLs (written in the configuration file) may hold no credential."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if url != url.strip():
        return "the URL has spaces around it (not repeated here: it may hold a password)"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return ("not a database URL SQLAlchemy can read (dialect+driver://user@host:port/database); "
                "not repeated here: it may hold a password")
    if in_clear and (parsed.password is not None
                     or any(_SECRET_PARAMETER.search(key) for key in parsed.query)):
        return ("the URL holds a password in clear: put the URL in an environment variable "
                "and name it with 'url_env'")
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        return f"unknown kind of database {parsed.drivername!r}"
    try:
        dialect.import_dbapi()
    except ImportError as error:
        module = (error.name or "").split(".")[0] or parsed.drivername
        package = _DRIVER_PACKAGES.get(module, module)
        return f"{parsed.drivername} needs the driver {module}, not installed: pip install {package}"
    return None


def _absolute_sqlite(url: str, base_dir: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        return prefix + str((base_dir / url[len(prefix) :]).resolve())
    return url


class Watermark(_Strict):
    """Where the last night stopped: an increasing column of the query (a timestamp or an id).

    A night reads only rows past the committed value. ``lookback_hours`` re-reads a margin
    before it, so rows that arrive late with an older timestamp are still caught; events
    already stored are not stored twice.
    """

    column: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    lookback_hours: float = Field(default=0, ge=0, le=MAX_LOOKBACK_HOURS)


class _SourceBase(_Strict):
    """What every source names: the case, the time, the activity, the resource, attributes."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    case_id: str | None = None
    activity: str | None = None
    activity_column: str | None = None
    timestamp: str | None = None
    resource: str | None = None
    event_id: str | None = Field(
        default=None, description="column that identifies the row in the source, if any"
    )
    attributes: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = Field(
        default_factory=list
    )
    timezone: str = "UTC"
    on_bad_rows: Literal["stop", "quarantine"] = Field(
        default="stop",
        description="stop the run at the first bad row, or set bad rows aside, count and report them",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def incremental(self) -> bool:
        """Whether a night reads only what is past a committed watermark."""
        return False

    def _mapping(self, activity_column: str | None) -> EventMapping:
        from kaizenflow.sources.mapping import EventMapping

        return EventMapping(
            source=self.name, case_id=cast(str, self.case_id), timestamp=cast(str, self.timestamp),
            activity=self.activity, activity_column=activity_column, resource=self.resource,
            event_id=self.event_id, attributes=tuple(self.attributes), timezone=self.timezone,
        )


class SqlSource(_SourceBase):
    """Events from a SQL query on a configured connection, read incrementally with a watermark."""

    connection: str
    query: str = Field(min_length=1)
    case_id: str
    timestamp: str
    watermark: Watermark | None = None

    @model_validator(mode="after")
    def _one_activity(self) -> SqlSource:
        if (self.activity is None) == (self.activity_column is None):
            raise ValueError("give exactly one of 'activity' (a constant) or 'activity_column'")
        return self

    @property
    def incremental(self) -> bool:
        return self.watermark is not None

    def mapping(self) -> EventMapping:
        return self._mapping(self.activity_column)

    def increment(self, committed: Mapping[str, str]) -> Increment | None:
        """What to read past the committed watermark; None for a full read each night."""
        from kaizenflow.sources.sql import Increment

        if self.watermark is None:
            return None
        return Increment(column=self.watermark.column, after=committed.get(self.name),
                         lookback=timedelta(hours=self.watermark.lookback_hours))

    def extract(
        self, config: KaizenConfig, process: str, committed: Mapping[str, str], staging: Path
    ) -> Extracted:
        """The query's rows past the committed watermark, mapped and staged in ``staging``."""
        from kaizenflow.sources.sql import extract_sql

        url = config.connections[self.connection].resolve_url(config.base_dir)
        return extract_sql(url, self.query, self.mapping(), process, self.increment(committed),
                           quarantine=self.on_bad_rows == "quarantine",
                           staging=staging, chunk_rows=config.storage.load_chunk_rows)

    def position(self, committed: Mapping[str, str]) -> str:
        """For the run manifest: how far the source has been read."""
        if self.watermark is not None and self.name in committed:
            return f"{self.watermark.column} > {committed[self.name].partition(':')[2]}"
        return "full read each run"


class FileSource(_SourceBase):
    """Events from a file, read whole each night (events already stored are recognised by id).

    Columns may be left out when the file uses XES names or common ones (case_id, activity,
    timestamp, resource); XES and OCEL logs name their own.
    """

    file: Path
    object_type: str | None = Field(default=None, description="OCEL 2.0: the object type a case is")
    classifier: str | None = Field(default=None, description="XES: the log's classifier to use")
    delimiter: str | None = Field(default=None, description="CSV: detected when not given")
    timestamp_format: str | None = Field(default=None, description="CSV/Parquet: detected when not given")

    @model_validator(mode="after")
    def _consistent(self) -> FileSource:
        if self.activity is not None and self.activity_column is not None:
            raise ValueError("give at most one of 'activity' (a constant) or 'activity_column'")
        if self.case_id is not None and self.timestamp is None:
            raise ValueError("a file source that names 'case_id' must name 'timestamp' too")
        return self

    def mapping(self) -> EventMapping | None:
        """The columns named in the configuration; None when the file names its own."""
        if self.case_id is None:
            return None
        return self._mapping(self.activity_column or (None if self.activity else "activity"))

    def read_options(self, process: str) -> dict[str, object]:
        """Keyword options of ``read_events_file`` for this source."""
        options: dict[str, object] = {"process": process, "source": self.name}
        for option in ("object_type", "classifier", "delimiter", "timestamp_format"):
            value = getattr(self, option)
            if value is not None:
                options[option] = value
        if self.timezone != "UTC" and self.case_id is None:
            options["timezone"] = self.timezone
        return options

    def extract(
        self, config: KaizenConfig, process: str, committed: Mapping[str, str], staging: Path
    ) -> Extracted:
        """The whole file, mapped and staged in ``staging``, ``storage.load_chunk_rows`` at a time."""
        from kaizenflow.sources.files import read_events_file
        from kaizenflow.storage.staging import Extracted, stage

        events = read_events_file(config.path(self.file), self.mapping(), **self.read_options(process))
        step = config.storage.load_chunk_rows
        chunks = ((events.iloc[start:start + step], None) for start in range(0, len(events), step))
        directory, counts, _ = stage(staging, process, self.name, chunks)
        return Extracted(directory=directory, chunks=counts, rows=len(events), watermark=None)

    def position(self, committed: Mapping[str, str]) -> str:
        return f"file {self.file} (read whole, deduplicated)"


def _source_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if "file" in value:
            return "file"
        if "connection" in value or "query" in value:
            return "sql"
        return None
    return "file" if isinstance(value, FileSource) else "sql" if isinstance(value, SqlSource) else None


#: A source is a SQL query (``connection`` + ``query``) or a file (``file``).
Source = Annotated[
    Annotated[SqlSource, Tag("sql")] | Annotated[FileSource, Tag("file")],
    Discriminator(
        _source_kind, custom_error_type="source_kind",
        custom_error_message="give 'connection' and 'query' (a SQL source) or 'file'",
    ),
]


class SlaRule(_Strict):
    """At most a limit of time from the first ``from_activity`` to the first ``to_activity`` after it.

    The limit is fixed (``max_hours``) or read per case from a business attribute holding days
    (``max_days_attribute``, e.g. a supplier's payment terms).
    """

    type: Literal["sla"]
    name: str
    from_activity: str = Field(alias="from")
    to_activity: str = Field(alias="to")
    max_hours: float | None = Field(default=None, gt=0, le=MAX_HOURS)
    max_days_attribute: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_limit(self) -> SlaRule:
        if (self.max_hours is None) == (self.max_days_attribute is None):
            raise ValueError("give exactly one of 'max_hours' or 'max_days_attribute'")
        return self

    def spec(self) -> RuleSpec:
        from kaizenflow.conformance.rules import Sla

        return Sla(name=self.name, from_activity=self.from_activity, to_activity=self.to_activity,
                   max_hours=self.max_hours, max_days_attribute=self.max_days_attribute)


class SegregationOfDutiesRule(_Strict):
    """No resource may perform both activities in one case."""

    type: Literal["segregation_of_duties"]
    name: str
    activities: tuple[str, str]

    def spec(self) -> RuleSpec:
        from kaizenflow.conformance.rules import SegregationOfDuties

        return SegregationOfDuties(name=self.name, first_activity=self.activities[0],
                                   second_activity=self.activities[1])


class FourEyesRule(_Strict):
    """An approval by someone other than the one who did the first activity."""

    type: Literal["four_eyes"]
    name: str
    activities: tuple[str, str]

    def spec(self) -> RuleSpec:
        from kaizenflow.conformance.rules import FourEyes

        return FourEyes(name=self.name, first_activity=self.activities[0],
                        second_activity=self.activities[1])


class CaseDurationRule(_Strict):
    type: Literal["case_duration"]
    name: str
    max_hours: float = Field(gt=0, le=MAX_HOURS)

    def spec(self) -> RuleSpec:
        from kaizenflow.conformance.rules import CaseDuration

        return CaseDuration(name=self.name, max_hours=self.max_hours)


class MandatoryActivityRule(_Strict):
    """A finished case must contain the activity (running cases are not judged yet)."""

    type: Literal["mandatory_activity"]
    name: str
    activity: str

    def spec(self) -> RuleSpec:
        from kaizenflow.conformance.rules import MandatoryActivity

        return MandatoryActivity(name=self.name, activity=self.activity)


class ForbiddenActivityRule(_Strict):
    type: Literal["forbidden_activity"]
    name: str
    activity: str

    def spec(self) -> RuleSpec:
        from kaizenflow.conformance.rules import ForbiddenActivity

        return ForbiddenActivity(name=self.name, activity=self.activity)


class AttributeConditionRule(_Strict):
    """A comparison of case attributes, e.g. ``payment_amount == invoice_amount``."""

    type: Literal["attribute_condition"]
    name: str
    condition: str
    tolerance: float = Field(default=0, ge=0)

    def spec(self) -> RuleSpec:
        from kaizenflow.conformance.rules import parse_condition

        return parse_condition(self.name, self.condition, self.tolerance)


Rule = Annotated[
    SlaRule | SegregationOfDutiesRule | FourEyesRule | CaseDurationRule | MandatoryActivityRule
    | ForbiddenActivityRule | AttributeConditionRule,
    Field(discriminator="type"),
]


class Owners(_Strict):
    """Who owns a task: the owner of its business object's value (``"*"`` for any value of that
    attribute), else the default."""

    default: str
    by_attribute: dict[str, dict[str, str]] = Field(default_factory=dict)


class TaskRaising(_Strict):
    """When a deviation pattern becomes an improvement task, and what it should reach."""

    min_cases: int = Field(default=5, ge=1, le=MAX_COUNT)
    min_share: float = Field(default=0.01, ge=0, le=1)
    target_reduction: float = Field(
        default=0.5, gt=0, le=1, description="share of the baseline the task should remove"
    )
    scope_attributes: list[str] = Field(
        default_factory=list,
        description="business attributes a task may be scoped to (e.g. supplier, plant)",
    )
    min_scope_support: float = Field(
        default=0.4, gt=0, le=1,
        description="a root cause must cover this share of the pattern's cases to scope its task",
    )
    min_scope_lift: float = Field(default=2.0, ge=1, le=MAX_COUNT)
    owners: Owners
    close_after_absent_runs: int = Field(
        default=3, ge=1, le=MAX_RUNS,
        description="close an active task whose pattern is absent this many runs",
    )
    effect_window_days: float = Field(
        default=30, gt=0, le=MAX_DAYS, description="how long after a change its effect is measured"
    )
    effect_min_cases: int = Field(default=30, ge=5, le=MAX_COUNT,
                                  description="cases needed on each side of a change")
    effect_alpha: float = Field(default=0.05, gt=0, lt=0.5)

    def policy(self) -> RaisingPolicy:
        """The thresholds, scopes and owners as the raising logic knows them."""
        from kaizenflow.improvement.raising import RaisingPolicy

        return RaisingPolicy(
            min_cases=self.min_cases, min_share=self.min_share, target_reduction=self.target_reduction,
            scope_attributes=self.scope_attributes, min_scope_support=self.min_scope_support,
            min_scope_lift=self.min_scope_lift, default_owner=self.owners.default,
            owners_by_attribute=self.owners.by_attribute,
        )

    def lifecycle(self) -> LifecyclePolicy:
        """When a task closes as absent and how its effect is judged."""
        from kaizenflow.storage.state import LifecyclePolicy

        return LifecyclePolicy(close_after_absent_runs=self.close_after_absent_runs,
                               effect_min_cases=self.effect_min_cases, effect_alpha=self.effect_alpha)


class Schedule(_Strict):
    """When a process's night starts and how long it may take (`kaizen serve`, `kaizen deploy`)."""

    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    timeout_hours: float = Field(default=6, gt=0, le=MAX_SECONDS / 3600)

    @model_validator(mode="after")
    def _valid_for_prefect(self) -> Schedule:
        """Checked by Prefect's own rules, only when given: importing Prefect costs about a second
        (benchmarks/micro.py), which every configuration load (each `kaizen tasks` call, each
        stage) would pay for the default."""
        if self.model_fields_set & {"cron", "timezone"}:
            from prefect.client.schemas.schedules import CronSchedule

            CronSchedule(cron=self.cron, timezone=self.timezone)
        return self


class Cost(_Strict):
    """What a case costs, for the cost of each deviation pattern: an attribute of the events
    (summed over a case's events, ``per: event``) or of the case (``per: case``)."""

    attribute: str = Field(min_length=1)
    per: Literal["event", "case"] = "event"


class Process(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    model: Path
    models: dict[str, Path] = Field(
        default_factory=dict,
        description="called process id -> the file that holds it, for BPMN call activities whose "
                    "process is in neither the model's file nor its folder",
    )
    sources: list[Source] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    activity_mapping: dict[str, str] = Field(
        default_factory=dict, description="log activity name -> model activity name"
    )
    open_case_horizon_days: float = Field(
        default=90, gt=0, le=MAX_DAYS,
        description="a case whose last event is this recent may still be running",
    )
    root_cause_min_support: int = Field(default=5, ge=1, le=MAX_COUNT)
    alignment_timeout_seconds: float = Field(
        default=120, gt=0, le=MAX_SECONDS,
        description="time budget of one variant; past it the variant is unchecked",
    )
    window_days: float | None = Field(
        default=None, gt=0, le=MAX_DAYS,
        description="only cases that started this many days before the latest event",
    )
    cost: Cost | None = None
    tasks: TaskRaising
    # a factory: building the default validates it, which imports Prefect, so not at import time
    schedule: Schedule = Field(default_factory=Schedule)

    @model_validator(mode="after")
    def _unique_sources(self) -> Process:
        names = [source.name for source in self.sources]
        if len(set(names)) != len(names):
            raise _AtKey("sources", "source names must be unique within a process")
        return self

    def rule_specs(self) -> list[RuleSpec]:
        """The configuration's rules as the pure checking code knows them."""
        return [rule.spec() for rule in self.rules]


class Execution(_Strict):
    """Where the per-variant alignment work runs: Prefect task runners, never a home-made pool."""

    task_runner: Literal["thread", "process", "dask"] = "process"
    workers: int = Field(default=2, ge=1, le=MAX_WORKERS)
    dask_address: str | None = Field(
        default=None, description="scheduler address of an existing Dask cluster (task_runner: dask)"
    )
    chunk_size: int = Field(default=50, ge=1, le=MAX_COUNT, description="variants per alignment task")
    lock_wait_seconds: float = Field(
        default=0, ge=0, le=MAX_SECONDS, description="how long a run waits for another run on the same state"
    )


class _SinkBase(_Strict):
    """Where task events go. Secrets (tokens, webhook secrets, URLs with credentials) are named
    by environment variable, read only when the sink is built."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    processes: list[str] | None = Field(default=None, description="only these processes (default: all)")
    timeout_seconds: float = Field(default=10, gt=0, le=3600)

    def secret(self, variable: str) -> str:
        value = os.environ.get(variable)
        if not value:
            raise ConfigError(f"sink {self.name}: environment variable {variable} is not set")
        return value

    def serves(self, process: str) -> bool:
        return self.processes is None or process in self.processes


class WebhookSinkConfig(_SinkBase):
    """A signed JSON POST per task event."""

    type: Literal["webhook"]
    url: str | None = None
    url_env: str | None = None
    secret_env: str

    @model_validator(mode="after")
    def _one_url(self) -> WebhookSinkConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("a webhook sink needs url or url_env")
        return self

    def build(self, links: LinkStore, pages: WebPages | None = None) -> Sink:
        from kaizenflow.sinks.webhook import WebhookSink

        url = self.url if self.url is not None else self.secret(cast(str, self.url_env))
        return WebhookSink(url, self.secret(self.secret_env), timeout_seconds=self.timeout_seconds,
                           pages=pages)


class TwoWaySinkConfig(_SinkBase):
    """A sink whose tickets talk back: their webhooks to the web app, signed with the secret in
    ``webhook_secret_env``, mark tasks done and bring comments back."""

    type: Literal["github", "jira"]
    webhook_secret_env: str | None = Field(
        default=None, description="GitHub/Jira: the secret their webhooks to the web app are signed "
                                  "with (closing or commenting the issue then reaches the task)",
    )

    poll: bool | None = Field(
        default=None, description="GitHub/Jira: `kaizen tasks deliver` asks for the state and comments of "
                                  "the tasks' tickets (default: when webhook_secret_env is not set)",
    )

    @property
    def polled(self) -> bool:
        """Whether `kaizen tasks deliver` polls the tickets: asked for, or no webhooks to wait for."""
        return self.poll if self.poll is not None else self.webhook_secret_env is None

    def link_target(self) -> str:
        """The ``sink_links`` target the sink links its issues under (sinks/github.py, sinks/jira.py)."""
        raise NotImplementedError

    def build(self, links: LinkStore, pages: WebPages | None = None) -> Sink:
        raise NotImplementedError


class GitHubSinkConfig(TwoWaySinkConfig):
    """An issue per task in a GitHub repository."""

    type: Literal["github"]
    repo: str
    token_env: str
    api_url: str = "https://api.github.com"

    def link_target(self) -> str:
        return f"github:{self.api_url.rstrip('/')}/{self.repo}"

    def build(self, links: LinkStore, pages: WebPages | None = None) -> Sink:
        from kaizenflow.sinks.github import GitHubIssuesSink

        return GitHubIssuesSink(self.repo, self.secret(self.token_env), self.api_url, links=links,
                                timeout_seconds=self.timeout_seconds, pages=pages)


class JiraSinkConfig(TwoWaySinkConfig):
    """An issue per task in a Jira project."""

    type: Literal["jira"]
    base_url: str
    email: str
    token_env: str
    project_key: str
    issue_type: str = "Task"

    def link_target(self) -> str:
        return f"jira:{self.base_url.rstrip('/')}/{self.project_key}"

    def build(self, links: LinkStore, pages: WebPages | None = None) -> Sink:
        from kaizenflow.sinks.jira import JiraSink

        return JiraSink(self.base_url, self.email, self.secret(self.token_env), self.project_key,
                        links=links, issue_type=self.issue_type, timeout_seconds=self.timeout_seconds,
                        pages=pages)


class AppriseSinkConfig(_SinkBase):
    """A chat or e-mail notification through Apprise URLs (space-separated, from the environment)."""

    type: Literal["apprise"]
    urls_env: str

    def build(self, links: LinkStore, pages: WebPages | None = None) -> Sink:
        from kaizenflow.sinks.notify import AppriseSink

        return AppriseSink([url for url in self.secret(self.urls_env).split() if url], pages=pages)


SinkConfig = Annotated[
    WebhookSinkConfig | GitHubSinkConfig | JiraSinkConfig | AppriseSinkConfig,
    Field(discriminator="type"),
]


class Delivery(_Strict):
    max_attempts: int = Field(default=10, ge=1, le=1000)
    backoff_seconds: float = Field(default=60, gt=0, le=MAX_SECONDS)
    backoff_max_seconds: float = Field(default=21600, gt=0, le=MAX_SECONDS)


class Storage(_Strict):
    directory: Path = Path("state")
    state_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the task database; SQLite in the directory"
    )
    state_url_env: str | None = None
    deviation_runs_kept: int = Field(
        default=14, ge=1, le=MAX_RUNS,
        description="runs per process whose per-case deviations stay in the task database; "
                    "older runs keep their summaries and KPI history only",
    )
    load_chunk_rows: int = Field(
        default=200_000, ge=1, le=MAX_CHUNK_ROWS,
        description="source rows read, mapped, staged and stored at a time: a night's memory is "
                    "bounded by this, not by the size of the history it loads",
    )

    @model_validator(mode="after")
    def _state_url(self) -> Storage:
        if self.state_url is not None and self.state_url_env is not None:
            raise ValueError("give at most one of 'state_url' or 'state_url_env'")
        if self.state_url is not None:
            problem = url_problem(self.state_url, in_clear=True)
            if problem:
                raise _AtKey("state_url", problem.replace("'url_env'", "'state_url_env'"))
        return self


class Oidc(_Strict):
    """Sign-in to the web app by an OpenID Connect provider (authorization code flow with PKCE)."""

    issuer: str
    client_id: str
    client_secret_env: str = Field(description="environment variable holding the client secret")
    username_claim: str = Field(default="email", description="the ID token claim naming the kaizenflow user")
    scopes: str = "openid email profile"
    label: str = "Sign in with your organisation's account"


class Web(_Strict):
    """The process owners' web app (`kaizen web`)."""

    base_url: str | None = Field(
        default=None, description="where people reach the web app (https://kaizen.example.com): "
                                  "links in notifications and artifacts point there",
    )
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    proxy_user_header: str | None = Field(
        default=None, description="sign in by a header a trusted reverse proxy sets (off by default)",
    )
    proxy_addresses: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="the reverse proxies whose proxy_user_header is believed",
    )
    oidc: Oidc | None = None


_SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))


def directory_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold our files: it must be (or be creatable as) a writable directory
    of ours on a real file system. Nothing is created here."""
    resolved = path.resolve()
    if any(resolved == folder or folder in resolved.parents for folder in _SYSTEM_FOLDERS):
        return f"{path} is a system folder, not one to keep state in"
    existing = resolved
    while not existing.exists():
        if existing.parent == existing:
            return f"{path}: no existing folder above it"
        existing = existing.parent
    try:
        found = existing.stat()
    except OSError as error:
        return f"{existing}: cannot be read ({error.strerror})"
    if not stat.S_ISDIR(found.st_mode):
        return f"{existing} is a file, not a folder"
    if existing == resolved and found.st_uid != os.getuid():
        return f"{path} belongs to another user (uid {found.st_uid}); use a folder of your own"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


class KaizenConfig(_Strict):
    """A whole configuration; relative paths are resolved against ``base_dir``."""

    connections: dict[str, Connection] = Field(
        default_factory=dict, description="databases the SQL sources read; none when every source is a file",
    )
    processes: list[Process] = Field(min_length=1)
    storage: Storage = Storage()
    execution: Execution = Execution()
    sinks: list[SinkConfig] = Field(default_factory=list)
    delivery: Delivery = Delivery()
    reports_directory: Path = Path("reports")
    web: Web = Web()
    base_dir: Path = Path(".")
    config_hash: str = ""

    @model_validator(mode="after")
    def _references(self) -> KaizenConfig:
        names = [p.name for p in self.processes]
        if len(set(names)) != len(names):
            raise ValueError("process names must be unique")
        sink_names = [s.name for s in self.sinks]
        if len(set(sink_names)) != len(sink_names):
            raise ValueError("sink names must be unique")
        for i, process in enumerate(self.processes):
            for j, source in enumerate(process.sources):
                if isinstance(source, SqlSource) and source.connection not in self.connections:
                    raise _AtKey(
                        f"processes.{i}.sources.{j}.connection",
                        f"unknown connection {source.connection!r} "
                        f"(known: {', '.join(sorted(self.connections)) or 'none'})",
                    )
        for key, directory in (("storage.directory", self.storage.directory),
                               ("reports_directory", self.reports_directory)):
            problem = directory_problem(self.path(directory))
            if problem:
                raise _AtKey(key, problem)
        return self

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else (self.base_dir / relative).resolve()

    @property
    def state_directory(self) -> Path:
        return self.path(self.storage.directory)

    @property
    def staging_directory(self) -> Path:
        """Where extracted events wait, owner-only, until the load has stored them."""
        return self.state_directory / "staging"

    @property
    def state_url(self) -> str:
        if self.storage.state_url_env:
            value = os.environ.get(self.storage.state_url_env)
            if not value:
                raise ConfigError(
                    f"environment variable {self.storage.state_url_env} "
                    "(storage.state_url_env) is not set"
                )
            problem = url_problem(value, in_clear=False)
            if problem:
                raise ConfigError(f"environment variable {self.storage.state_url_env} "
                                  f"(storage.state_url_env): {problem}")
            return value
        if self.storage.state_url:
            return _absolute_sqlite(self.storage.state_url, self.base_dir)
        return f"sqlite:///{self.state_directory / 'kaizen.db'}"

    def process(self, name: str) -> Process:
        for process in self.processes:
            if process.name == name:
                return process
        raise ConfigError(f"no process named {name!r} in the configuration")

    def sinks_of(self, process: str) -> list[str]:
        """The names of the sinks that receive a process's task events."""
        return [sink.name for sink in self.sinks if sink.serves(process)]


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML in which a key given twice in one mapping is an error, not a silent override."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the constructor below says so
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:80]!r} (first given on line {first + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path) -> KaizenConfig:
    """Read and validate a configuration file; every error names the file and the key's path."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{file}: cannot read the configuration: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{file}: not UTF-8 text (byte {error.start})") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML{_yaml_reason(error)}") from None
    except RecursionError:
        raise ConfigError(f"{file}: not valid YAML: nested too deeply") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the configuration must be a mapping of keys")
    for reserved in ("base_dir", "config_hash"):
        if reserved in raw:
            raise ConfigError(f"{file}: {reserved}: not a configuration key")
    raw["base_dir"] = file.resolve().parent
    raw["config_hash"] = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    try:
        return KaizenConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{file}: {_describe(error)}") from None
    except RecursionError:
        raise ConfigError(f"{file}: nested too deeply") from None


def _yaml_reason(error: yaml.YAMLError) -> str:
    """One line: where and what, without PyYAML's multi-line context."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"{where}: {error.problem or error.context}"
    return f": {str(error).splitlines()[0] if str(error) else type(error).__name__}"


_UNION_LISTS = {"sources", "sinks", "rules"}


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        parts = list(item["loc"])
        # a union member's tag follows the list index of a source, sink or rule: not a key
        parts = [part for k, part in enumerate(parts)
                 if not (k >= 2 and isinstance(parts[k - 1], int) and parts[k - 2] in _UNION_LISTS
                         and isinstance(part, str) and part in _UNION_TAGS)]
        message = item["msg"]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, _AtKey):
            parts.append(cause.path)
            message = str(cause)
        elif item["type"] == "extra_forbidden":
            message = "unknown key"
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        location = ".".join(str(part) for part in parts)
        lines.append(f"{location or '(top level)'}: {message}")
    return " ".join("; ".join(lines).split())  # one line, whatever the messages held


_UNION_TAGS = {
    "sql", "file", "webhook", "github", "jira", "apprise",
    "sla", "segregation_of_duties", "four_eyes", "case_duration", "mandatory_activity",
    "forbidden_activity", "attribute_condition",
}
