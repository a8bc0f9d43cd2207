"""The configuration is validated once, and every error names the file and the key."""

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaizenflow.pipeline.config import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "kaizen.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return loaded


def test_the_sample_configuration_is_valid() -> None:
    config = load_config(EXAMPLE)
    process = config.process("purchase-to-pay")
    assert len(process.sources) == 7
    assert config.path(process.model) == EXAMPLE.parent / "purchase_to_pay.bpmn"
    assert len(config.config_hash) == 16


def test_an_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    data = example()
    data["processes"][0]["sources"][2]["colour"] = "red"
    with pytest.raises(ConfigError, match=r"processes\.0\.sources\.2\.colour: unknown key"):
        load_config(write(tmp_path, data))


def test_a_wrong_type_is_named_with_its_path(tmp_path: Path) -> None:
    data = example()
    data["processes"][0]["tasks"]["min_cases"] = "many"
    with pytest.raises(ConfigError, match=r"kaizen\.yaml: processes\.0\.tasks\.min_cases: "):
        load_config(write(tmp_path, data))


def test_a_source_needs_exactly_one_way_to_name_its_activity(tmp_path: Path) -> None:
    data = example()
    data["processes"][0]["sources"][0]["activity_column"] = "kind"
    with pytest.raises(ConfigError, match=r"processes\.0\.sources\.0: .*exactly one of 'activity'"):
        load_config(write(tmp_path, data))


def test_an_unknown_connection_is_refused(tmp_path: Path) -> None:
    data = example()
    data["processes"][0]["sources"][0]["connection"] = "crm"
    with pytest.raises(ConfigError, match=r"unknown connection 'crm'"):
        load_config(write(tmp_path, data))


def test_a_process_reading_only_files_needs_no_connections(tmp_path: Path) -> None:
    data = example()
    del data["connections"]
    data["processes"][0]["sources"] = [{"name": "export", "file": "exports/p2p.csv"}]
    assert load_config(write(tmp_path, data)).connections == {}
    data["processes"][0]["sources"][0] = {**example()["processes"][0]["sources"][0]}
    with pytest.raises(ConfigError, match=r"processes\.0\.sources\.0\.connection: unknown connection "
                                          r"'erp' \(known: none\)"):
        load_config(write(tmp_path, data))


def test_a_password_in_clear_is_refused_and_not_repeated(tmp_path: Path) -> None:
    data = example()
    data["connections"]["erp"] = {"url": "postgresql://app:s3cret-pw@db/erp"}
    with pytest.raises(ConfigError, match=r"connections\.erp\.url: .*url_env") as error:
        load_config(write(tmp_path, data))
    assert "s3cret-pw" not in str(error.value)


def test_a_url_from_the_environment_must_be_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = example()
    data["connections"]["erp"] = {"url_env": "KAIZEN_TEST_ERP_URL"}
    config = load_config(write(tmp_path, data))
    monkeypatch.delenv("KAIZEN_TEST_ERP_URL", raising=False)
    with pytest.raises(ConfigError, match="KAIZEN_TEST_ERP_URL"):
        config.connections["erp"].resolve_url(tmp_path)


def test_relative_sqlite_paths_are_taken_from_the_configuration_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, example()))
    assert config.connections["erp"].resolve_url(config.base_dir) == f"sqlite:///{tmp_path / 'p2p.db'}"


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.yaml"
    path.write_text("processes: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kaizen\.yaml: not valid YAML"):
        load_config(path)


def test_every_kind_of_rule_is_configurable(tmp_path: Path) -> None:
    from kaizenflow.conformance.rules import (
        AttributeCondition,
        CaseDuration,
        ForbiddenActivity,
        FourEyes,
        MandatoryActivity,
        SegregationOfDuties,
        Sla,
    )
    data = example()
    data["processes"][0]["rules"] += [
        {"type": "four_eyes", "name": "four eyes", "activities": ["Create Purchase Order",
                                                                  "Approve Purchase Order"]},
        {"type": "case_duration", "name": "within 60 days", "max_hours": 1440},
        {"type": "mandatory_activity", "name": "paid", "activity": "Pay Invoice"},
        {"type": "forbidden_activity", "name": "no cancellations", "activity": "Cancel Order"},
        {"type": "attribute_condition", "name": "terms known", "condition": "payment_terms_days > 0"},
    ]
    kinds = [type(spec) for spec in load_config(write(tmp_path, data)).processes[0].rule_specs()]
    assert kinds == [Sla, SegregationOfDuties, FourEyes, CaseDuration, MandatoryActivity,
                     ForbiddenActivity, AttributeCondition]


def test_an_unknown_rule_type_is_named(tmp_path: Path) -> None:
    data = example()
    data["processes"][0]["rules"].append({"type": "vibes", "name": "x"})
    with pytest.raises(ConfigError, match=r"processes\.0\.rules\.2"):
        load_config(write(tmp_path, data))


def test_loading_the_configuration_module_does_not_import_prefect() -> None:
    """Prefect fixes its log level when first imported; the CLI must set it before that."""
    import subprocess
    import sys

    check = "import sys, kaizenflow.pipeline.config; print('prefect' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_default_schedule_is_one_prefect_accepts() -> None:
    """It is not put through Prefect's check on every load (see the next test), so check it here."""
    from prefect.client.schemas.schedules import CronSchedule

    from kaizenflow.pipeline.config import Schedule

    default = Schedule()
    assert CronSchedule(cron=default.cron, timezone=default.timezone).cron == default.cron


def test_loading_a_configuration_without_a_schedule_does_not_import_prefect() -> None:
    """Prefect costs about a second to import: each `kaizen tasks` call and each stage would pay it."""
    import subprocess
    import sys

    assert "schedule" not in EXAMPLE.read_text(encoding="utf-8")
    code = ("import sys; from kaizenflow.pipeline.config import load_config; "
            f"load_config({str(EXAMPLE)!r}); print('prefect' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


# --- every value bounded at load, with the key's path -------------------------------------------

BOUNDED = [
    (("processes", 0, "sources", 0, "watermark", "lookback_hours"),
     r"processes\.0\.sources\.0\.watermark\.lookback_hours: "),
    (("processes", 0, "open_case_horizon_days"), r"processes\.0\.open_case_horizon_days: "),
    (("processes", 0, "window_days"), r"processes\.0\.window_days: "),
]


def put(data: dict[str, Any], keys: tuple[str | int, ...], value: object) -> dict[str, Any]:
    target: Any = data
    for key in keys[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[keys[-1]] = value
    return data


@pytest.mark.parametrize("value", [float("inf"), 1e300, float("nan")], ids=["inf", "1e300", "nan"])
@pytest.mark.parametrize(("keys", "path"), BOUNDED, ids=[b[0][-1] for b in BOUNDED])
def test_an_unbounded_duration_is_refused_at_load_naming_its_key(
    tmp_path: Path, keys: tuple[str | int, ...], path: str, value: float
) -> None:
    with pytest.raises(ConfigError, match=r"kaizen\.yaml: " + path):
        load_config(write(tmp_path, put(example(), keys, value)))


@pytest.mark.parametrize("value", ["100000000000000000000", "1.0e+20"])
@pytest.mark.parametrize("key", ["load_chunk_rows", "deviation_runs_kept"])
def test_a_huge_count_is_refused_at_load_naming_its_key(tmp_path: Path, key: str, value: str) -> None:
    path = tmp_path / "kaizen.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace(
        "storage:\n", f"storage:\n  {key}: {value}\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"kaizen\.yaml: storage\.{key}: "):
        load_config(path)


def test_a_system_folder_is_refused_as_the_state_directory(tmp_path: Path) -> None:
    data = example()
    data["storage"]["directory"] = "/proc/self"
    with pytest.raises(ConfigError, match=r"storage\.directory: /proc/self is a system folder"):
        load_config(write(tmp_path, data))


def test_a_file_is_refused_as_the_state_directory(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"storage\.directory: .*state is a file, not a folder"):
        load_config(write(tmp_path, example()))


def test_a_folder_that_is_not_writable_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    data = example()
    data["reports_directory"] = str(locked / "reports")
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who may write anywhere")
        with pytest.raises(ConfigError, match=r"reports_directory: .*locked is not writable"):
            load_config(write(tmp_path, data))
    finally:
        locked.chmod(0o700)


def test_a_url_whose_default_driver_is_not_installed_says_what_to_install(tmp_path: Path) -> None:
    data = example()
    data["connections"]["erp"] = {"url": "postgresql://app@db/erp"}  # psycopg2 is not installed
    with pytest.raises(ConfigError, match=r"connections\.erp\.url: .*psycopg2, not installed: "
                                          r"pip install psycopg2-binary"):
        load_config(write(tmp_path, data))


def test_a_url_from_the_environment_is_checked_when_it_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = example()
    data["connections"]["erp"] = {"url_env": "KAIZEN_TEST_ERP_URL"}
    config = load_config(write(tmp_path, data))
    monkeypatch.setenv("KAIZEN_TEST_ERP_URL", "mysql://app:pw-in-env@db/erp")
    with pytest.raises(ConfigError, match=r"KAIZEN_TEST_ERP_URL \(url_env\): .*pip install mysqlclient") \
            as error:
        config.connections["erp"].resolve_url(tmp_path)
    assert "pw-in-env" not in str(error.value)


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://app:s3cret-pw@db:notaport/erp",
    "postgresql+psycopg://app@db/erp?password=s3cret-pw",
    " postgresql+psycopg://app:s3cret-pw@db/erp",
    "postgresql+psycopg://app@db/erp?sslpassword=s3cret-pw",
], ids=["unparseable", "query-string", "leading-space", "ssl-password"])
def test_a_password_in_clear_cannot_slip_past_the_refusal(tmp_path: Path, url: str) -> None:
    data = example()
    data["connections"]["erp"] = {"url": url}
    with pytest.raises(ConfigError, match=r"connections\.erp\.url: ") as error:
        load_config(write(tmp_path, data))
    assert "s3cret-pw" not in str(error.value)
    assert "\n" not in str(error.value)


def test_a_password_in_a_state_url_is_refused_too(tmp_path: Path) -> None:
    data = example()
    data["storage"]["state_url"] = "postgresql+psycopg://app@db/state?password=s3cret-pw"
    with pytest.raises(ConfigError, match=r"storage\.state_url: .*state_url_env") as error:
        load_config(write(tmp_path, data))
    assert "s3cret-pw" not in str(error.value)


def test_a_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    path.write_text(text + "\nstorage:\n  directory: elsewhere\n", encoding="utf-8")
    line = text.count("\n") + 2
    with pytest.raises(ConfigError, match=rf"kaizen\.yaml: not valid YAML at line {line}, column 1: "
                                          r"duplicate key 'storage' \(first given on line \d+\)"):
        load_config(path)


def test_a_duplicate_key_deep_inside_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace(
        "        case_id: pr_id\n", "        case_id: pr_id\n        case_id: po_id\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"duplicate key 'case_id'"):
        load_config(path)


def test_yaml_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.yaml"
    path.write_text("processes:\n  - name: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "\n" not in str(error.value)


# --- sources and sinks are unions whose members build their domain objects ----------------------

def test_a_sql_source_builds_its_mapping_and_increment(tmp_path: Path) -> None:
    from datetime import timedelta

    from kaizenflow.pipeline.config import SqlSource

    source = load_config(write(tmp_path, example())).processes[0].sources[0]
    assert isinstance(source, SqlSource)
    assert source.mapping().case_id == "pr_id" and source.mapping().activity == "Create Purchase Requisition"
    increment = source.increment({"requisitions": "created_at:2024-01-01"})
    assert increment is not None and increment.lookback == timedelta(hours=24)
    assert increment.after == "created_at:2024-01-01"


def test_a_file_source_builds_its_read_options(tmp_path: Path) -> None:
    from kaizenflow.pipeline.config import FileSource

    data = example()
    data["processes"][0]["sources"] = [{"name": "export", "file": "p2p.xes", "classifier": "Activity",
                                        "timezone": "Europe/Berlin"}]
    source = load_config(write(tmp_path, data)).processes[0].sources[0]
    assert isinstance(source, FileSource)
    assert source.mapping() is None
    assert source.read_options("p2p") == {"process": "p2p", "source": "export", "classifier": "Activity",
                                          "timezone": "Europe/Berlin"}


def test_a_key_of_the_other_source_kind_is_named(tmp_path: Path) -> None:
    data = example()
    data["processes"][0]["sources"][0]["file"] = "p2p.csv"
    with pytest.raises(ConfigError, match=r"processes\.0\.sources\.0\.connection: unknown key"):
        load_config(write(tmp_path, data))


def test_a_source_of_no_kind_is_named(tmp_path: Path) -> None:
    data = example()
    data["processes"][0]["sources"][0] = {"name": "nowhere"}
    with pytest.raises(ConfigError, match=r"processes\.0\.sources\.0: give 'connection' and 'query' "
                                          r"\(a SQL source\) or 'file'"):
        load_config(write(tmp_path, data))


SINKS = [
    ({"name": "hook", "type": "webhook", "url": "https://example.org/hook", "secret_env": "KZ_T_SECRET"},
     "WebhookSink"),
    ({"name": "gh", "type": "github", "repo": "acme/ops", "token_env": "KZ_T_SECRET"}, "GitHubIssuesSink"),
    ({"name": "jira", "type": "jira", "base_url": "https://acme.atlassian.net", "email": "a@acme.org",
      "token_env": "KZ_T_SECRET", "project_key": "OPS"}, "JiraSink"),
    ({"name": "chat", "type": "apprise", "urls_env": "KZ_T_URLS"}, "AppriseSink"),
]


@pytest.mark.parametrize(("sink", "kind"), SINKS, ids=[s[1] for s in SINKS])
def test_each_sink_builds_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sink: dict[str, str], kind: str
) -> None:
    from kaizenflow.sinks import MemoryLinks

    monkeypatch.setenv("KZ_T_SECRET", "a-secret")
    monkeypatch.setenv("KZ_T_URLS", "json://localhost:1/")
    data = example()
    data["sinks"] = [sink]
    built = load_config(write(tmp_path, data)).sinks[0].build(MemoryLinks())
    assert type(built).__name__ == kind
    close = getattr(built, "close", None)
    if close is not None:
        close()


def test_a_sink_missing_a_key_of_its_type_names_it(tmp_path: Path) -> None:
    data = example()
    data["sinks"] = [{"name": "gh", "type": "github", "repo": "acme/ops"}]
    with pytest.raises(ConfigError, match=r"sinks\.0\.token_env: Field required"):
        load_config(write(tmp_path, data))


def test_a_sink_key_of_another_type_is_named(tmp_path: Path) -> None:
    data = example()
    data["sinks"] = [{**SINKS[0][0], "repo": "acme/ops"}]
    with pytest.raises(ConfigError, match=r"sinks\.0\.repo: unknown key"):
        load_config(write(tmp_path, data))


def test_task_raising_builds_its_policies(tmp_path: Path) -> None:
    raising = load_config(write(tmp_path, example())).processes[0].tasks
    assert raising.policy().min_cases == raising.min_cases
    assert raising.policy().default_owner == raising.owners.default
    assert raising.lifecycle().close_after_absent_runs == raising.close_after_absent_runs
