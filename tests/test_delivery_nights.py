"""Task events reach a webhook across nights: a receiver down for two runs loses nothing, doubles nothing."""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from fake_services import FakeWebhookReceiver

from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sample_logs import BPMN_PATH, SimulationConfig, append_days, generate

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
SECRET = "whsec-test-4711"


def night(config: KaizenConfig, number: int) -> None:
    process = config.processes[0]
    run_id = f"night-{number}"
    stages.ingest(Resources(config), process, run_id)
    log = stages.read_log(Resources(config), process)
    result = stages.check(process, log, stages.designed_model(Resources(config), process))
    stages.record(Resources(config), process, run_id, datetime.now(UTC), log, result,
                  stages.patterns(process, log, result))


def test_a_receiver_down_for_two_runs_gets_every_event_once_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    erp = f"sqlite:///{tmp_path / 'p2p.db'}"
    generate(erp, SimulationConfig(cases=1500, days=90, seed=9))
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["sinks"] = [{"name": "ops", "type": "webhook", "url_env": "KAIZEN_TEST_HOOK",
                      "secret_env": "KAIZEN_TEST_HOOK_SECRET"}]
    data["delivery"] = {"backoff_seconds": 0.001, "max_attempts": 50}
    (tmp_path / "kaizen.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    shutil.copy(BPMN_PATH, tmp_path / "purchase_to_pay.bpmn")
    monkeypatch.setenv("KAIZEN_TEST_HOOK_SECRET", SECRET)
    config = load_config(tmp_path / "kaizen.yaml")

    with FakeWebhookReceiver(SECRET) as receiver:
        monkeypatch.setenv("KAIZEN_TEST_HOOK", receiver.url)
        receiver.fail(503, times=10_000)  # down
        for number in (1, 2):
            night(config, number)
            report = stages.deliver_task_events(Resources(config))
            assert report.delivered == [] and not report.dead
            append_days(erp, 10)
        receiver.faults.clear()  # up again
        night(config, 3)
        stages.deliver_task_events(Resources(config))
        assert stages.deliver_task_events(Resources(config)).delivered == []  # nothing left, nothing resent

        ids = receiver.event_ids()
        assert ids and len(ids) == len(set(ids))
        sequences: dict[str, list[int]] = defaultdict(list)
        for event in receiver.accepted:
            sequences[event["fingerprint"]].append(event["sequence"])
        assert all(seq == sorted(seq) == list(range(seq[0], seq[0] + len(seq))) for seq in sequences.values())
        kinds: dict[str, list[str]] = {event["fingerprint"]: [] for event in receiver.accepted}
        for event in receiver.accepted:
            kinds[event["fingerprint"]].append(event["kind"])
        assert all(k[0] == "task.created" for k in kinds.values())
        assert receiver.rejected == 0  # every delivery was signed correctly
