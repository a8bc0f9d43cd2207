"""The configuration is validated once, and every error names the file and the key."""

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
    from kaizenflow.pipeline.stages import rule_specs

    data = example()
    data["processes"][0]["rules"] += [
        {"type": "four_eyes", "name": "four eyes", "activities": ["Create Purchase Order",
                                                                  "Approve Purchase Order"]},
        {"type": "case_duration", "name": "within 60 days", "max_hours": 1440},
        {"type": "mandatory_activity", "name": "paid", "activity": "Pay Invoice"},
        {"type": "forbidden_activity", "name": "no cancellations", "activity": "Cancel Order"},
        {"type": "attribute_condition", "name": "terms known", "condition": "payment_terms_days > 0"},
    ]
    kinds = [type(spec) for spec in rule_specs(load_config(write(tmp_path, data)).processes[0])]
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
