"""The one configuration model: a YAML file validated once at the door, errors naming the key."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Annotated, Literal, cast

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        if self.url is not None and _has_password(self.url):
            raise ValueError(
                "the URL holds a password in clear: put the URL in an environment variable "
                "and name it with 'url_env'"
            )
        return self

    def resolve_url(self, base_dir: Path) -> str:
        """The SQLAlchemy URL; relative SQLite paths are taken from the configuration's folder."""
        if self.url_env is not None:
            value = os.environ.get(self.url_env)
            if not value:
                raise ConfigError(f"environment variable {self.url_env} (url_env) is not set")
            url = value
        elif self.url_secret is not None:
            url = _prefect_secret(self.url_secret)
        else:
            assert self.url is not None
            url = self.url
        return _absolute_sqlite(url, base_dir)


def _prefect_secret(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        block = cast(Secret[str], Secret.load(name))  # synchronous outside an event loop
        value = block.get()
    except ValueError as error:
        raise ConfigError(f"Prefect Secret block {name!r} (url_secret) cannot be loaded: {error}") from None
    return str(value)


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password is not None
    except Exception:  # noqa: BLE001 - an unparseable URL is reported when it is used
        return False


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
    lookback_hours: float = Field(default=0, ge=0)


class Source(_Strict):
    """Events from a SQL query (``connection`` + ``query``) or from a file (``file``).

    Columns name the case, the time and the resource; the activity is a constant
    (``activity``) or a column (``activity_column``). A file's columns may be left out when it
    uses XES names or common ones (case_id, activity, timestamp, resource); XES and OCEL logs
    name their own.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    connection: str | None = None
    query: str | None = None
    file: Path | None = None
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
    watermark: Watermark | None = None
    on_bad_rows: Literal["stop", "quarantine"] = Field(
        default="stop",
        description="stop the run at the first bad row, or set bad rows aside, count and report them",
    )
    object_type: str | None = Field(default=None, description="OCEL 2.0: the object type a case is")
    classifier: str | None = Field(default=None, description="XES: the log's classifier to use")
    delimiter: str | None = Field(default=None, description="CSV: detected when not given")
    timestamp_format: str | None = Field(default=None, description="CSV/Parquet: detected when not given")

    @model_validator(mode="after")
    def _one_origin(self) -> Source:
        if self.file is not None:
            if self.connection is not None or self.query is not None or self.watermark is not None:
                raise ValueError("a file source takes no 'connection', 'query' or 'watermark'")
            if self.activity is not None and self.activity_column is not None:
                raise ValueError("give at most one of 'activity' (a constant) or 'activity_column'")
            if self.case_id is not None and self.timestamp is None:
                raise ValueError("a file source that names 'case_id' must name 'timestamp' too")
            return self
        if self.connection is None or self.query is None:
            raise ValueError("give 'connection' and 'query' (a SQL source) or 'file'")
        if self.case_id is None or self.timestamp is None:
            raise ValueError("a SQL source must name its 'case_id' and 'timestamp' columns")
        if (self.activity is None) == (self.activity_column is None):
            raise ValueError("give exactly one of 'activity' (a constant) or 'activity_column'")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value


class SlaRule(_Strict):
    """At most a limit of time from the first ``from_activity`` to the first ``to_activity`` after it.

    The limit is fixed (``max_hours``) or read per case from a business attribute holding days
    (``max_days_attribute``, e.g. a supplier's payment terms).
    """

    type: Literal["sla"]
    name: str
    from_activity: str = Field(alias="from")
    to_activity: str = Field(alias="to")
    max_hours: float | None = Field(default=None, gt=0)
    max_days_attribute: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_limit(self) -> SlaRule:
        if (self.max_hours is None) == (self.max_days_attribute is None):
            raise ValueError("give exactly one of 'max_hours' or 'max_days_attribute'")
        return self


class SegregationOfDutiesRule(_Strict):
    """No resource may perform both activities in one case."""

    type: Literal["segregation_of_duties"]
    name: str
    activities: tuple[str, str]


class FourEyesRule(_Strict):
    """An approval by someone other than the one who did the first activity."""

    type: Literal["four_eyes"]
    name: str
    activities: tuple[str, str]


class CaseDurationRule(_Strict):
    type: Literal["case_duration"]
    name: str
    max_hours: float = Field(gt=0)


class MandatoryActivityRule(_Strict):
    """A finished case must contain the activity (running cases are not judged yet)."""

    type: Literal["mandatory_activity"]
    name: str
    activity: str


class ForbiddenActivityRule(_Strict):
    type: Literal["forbidden_activity"]
    name: str
    activity: str


class AttributeConditionRule(_Strict):
    """A comparison of case attributes, e.g. ``payment_amount == invoice_amount``."""

    type: Literal["attribute_condition"]
    name: str
    condition: str
    tolerance: float = Field(default=0, ge=0)


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

    min_cases: int = Field(default=5, ge=1)
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
    min_scope_lift: float = Field(default=2.0, ge=1)
    owners: Owners
    close_after_absent_runs: int = Field(
        default=3, ge=1, description="close an active task whose pattern is absent this many runs"
    )
    effect_window_days: float = Field(
        default=30, gt=0, description="how long after a change its effect is measured"
    )
    effect_min_cases: int = Field(default=30, ge=5, description="cases needed on each side of a change")
    effect_alpha: float = Field(default=0.05, gt=0, lt=0.5)


class Schedule(_Strict):
    """When a process's night starts and how long it may take (`kaizen serve`, `kaizen deploy`)."""

    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    timeout_hours: float = Field(default=6, gt=0)

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
    sources: list[Source] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    activity_mapping: dict[str, str] = Field(
        default_factory=dict, description="log activity name -> model activity name"
    )
    open_case_horizon_days: float = Field(
        default=90, gt=0,
        description="a case whose last event is this recent may still be running",
    )
    root_cause_min_support: int = Field(default=5, ge=1)
    alignment_timeout_seconds: float = Field(
        default=120, gt=0, description="time budget of one variant; past it the variant is unchecked"
    )
    window_days: float | None = Field(
        default=None, gt=0, description="only cases that started this many days before the latest event"
    )
    cost: Cost | None = None
    tasks: TaskRaising
    # a factory: building the default validates it, which imports Prefect, so not at import time
    schedule: Schedule = Field(default_factory=Schedule)


class Execution(_Strict):
    """Where the per-variant alignment work runs: Prefect task runners, never a home-made pool."""

    task_runner: Literal["thread", "process", "dask"] = "process"
    workers: int = Field(default=2, ge=1)
    dask_address: str | None = Field(
        default=None, description="scheduler address of an existing Dask cluster (task_runner: dask)"
    )
    chunk_size: int = Field(default=50, ge=1, description="variants per alignment task")
    lock_wait_seconds: float = Field(
        default=0, ge=0, description="how long a run waits for another run on the same state"
    )


class SinkConfig(_Strict):
    """Where task events go: a signed webhook, GitHub Issues, Jira or a chat/e-mail notification.

    Secrets (tokens, webhook secrets, URLs with credentials) are named by environment variable.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    type: Literal["webhook", "github", "jira", "apprise"]
    processes: list[str] | None = Field(default=None, description="only these processes (default: all)")
    timeout_seconds: float = Field(default=10, gt=0)
    url: str | None = None
    url_env: str | None = None
    secret_env: str | None = None
    repo: str | None = None
    token_env: str | None = None
    api_url: str = "https://api.github.com"
    base_url: str | None = None
    email: str | None = None
    project_key: str | None = None
    issue_type: str = "Task"
    urls_env: str | None = None
    webhook_secret_env: str | None = Field(
        default=None, description="GitHub/Jira: the secret their webhooks to the web app are signed "
                                  "with (closing or commenting the issue then reaches the task)",
    )

    @model_validator(mode="after")
    def _complete(self) -> SinkConfig:
        needed = {
            "webhook": ["secret_env"],
            "github": ["repo", "token_env"],
            "jira": ["base_url", "email", "token_env", "project_key"],
            "apprise": ["urls_env"],
        }[self.type]
        missing = [key for key in needed if getattr(self, key) is None]
        if self.type == "webhook" and (self.url is None) == (self.url_env is None):
            missing.append("url or url_env")
        if missing:
            raise ValueError(f"a {self.type} sink needs {', '.join(missing)}")
        return self

    def secret(self, variable: str | None) -> str:
        if variable is None:
            return ""
        value = os.environ.get(variable)
        if not value:
            raise ConfigError(f"sink {self.name}: environment variable {variable} is not set")
        return value


class Delivery(_Strict):
    max_attempts: int = Field(default=10, ge=1)
    backoff_seconds: float = Field(default=60, gt=0)
    backoff_max_seconds: float = Field(default=21600, gt=0)


class Storage(_Strict):
    directory: Path = Path("state")
    state_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the task database; SQLite in the directory"
    )
    state_url_env: str | None = None
    deviation_runs_kept: int = Field(
        default=14, ge=1,
        description="runs per process whose per-case deviations stay in the task database; "
                    "older runs keep their summaries and KPI history only",
    )
    load_chunk_rows: int = Field(
        default=200_000, ge=1,
        description="source rows read, mapped, staged and stored at a time: a night's memory is "
                    "bounded by this, not by the size of the history it loads",
    )


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
                if source.connection is not None and source.connection not in self.connections:
                    raise ValueError(
                        f"processes.{i}.sources.{j}.connection: unknown connection "
                        f"{source.connection!r} (known: {', '.join(sorted(self.connections)) or 'none'})"
                    )
        return self

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else (self.base_dir / relative).resolve()

    @property
    def state_directory(self) -> Path:
        return self.path(self.storage.directory)

    @property
    def state_url(self) -> str:
        if self.storage.state_url_env:
            value = os.environ.get(self.storage.state_url_env)
            if not value:
                raise ConfigError(
                    f"environment variable {self.storage.state_url_env} "
                    "(storage.state_url_env) is not set"
                )
            return value
        if self.storage.state_url:
            return _absolute_sqlite(self.storage.state_url, self.base_dir)
        return f"sqlite:///{self.state_directory / 'kaizen.db'}"

    def process(self, name: str) -> Process:
        for process in self.processes:
            if process.name == name:
                return process
        raise ConfigError(f"no process named {name!r} in the configuration")


def load_config(path: str | Path) -> KaizenConfig:
    """Read and validate a configuration file; every error names the file and the key's path."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{file}: cannot read the configuration: {error.strerror}") from error
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {error}") from error
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


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"] if not _is_union_tag(part))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{location or '(top level)'}: {message}")
    return "; ".join(lines)


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and part in (
        "sla", "segregation_of_duties", "four_eyes", "case_duration", "mandatory_activity",
        "forbidden_activity", "attribute_condition",
    )
