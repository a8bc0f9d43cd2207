"""One-off commands on log files: check, inspect and map, with no configuration."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kaizenflow.cli.main import app

runner = CliRunner()


def test_check_reports_fitness_and_conforming_cases_as_json(shared_data: Path) -> None:
    import pm4py

    log, model = shared_data / "logs" / "a22f0n10.xes.gz", shared_data / "models" / "a22.pnml"
    result = runner.invoke(app, ["check", "--log", str(log), "--model", str(model), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    net, im, fm = pm4py.read_pnml(str(model))
    legacy = pm4py.read_xes(str(log), return_legacy_log_object=True)  # the log has no timestamps
    reference = pm4py.fitness_alignments(legacy, net, im, fm, multi_processing=False)
    assert abs(figures["fitness"] - reference["log_fitness"]) < 1e-9
    assert figures["cases"] == 1000 and not figures["has_timestamps"]
    assert 0 < figures["precision"] <= 1
    assert figures["conforming_cases"] == round(reference["percentage_of_fitting_traces"] * 10)
    assert figures["patterns"] and {"kind", "activity", "cases", "share"} <= set(figures["patterns"][0])


def test_check_with_a_cost_attribute_prices_each_pattern(shared_data: Path) -> None:
    """The broken running example: the one conforming case costs 950; 'decide' is skipped in two
    cases costing 750 and 550 (their events' costs summed)."""
    result = runner.invoke(app, ["check", "--log", str(shared_data / "logs" / "running_example_broken.csv"),
                                 "--model", str(shared_data / "models" / "running-example.pnml"),
                                 "--cost-attribute", "costs", "--json"])
    assert result.exit_code == 0, result.output
    patterns = {(p["kind"], p["activity"]): p for p in json.loads(result.stdout)["patterns"]}
    skipped = patterns[("skipped", "decide")]
    assert skipped["cases"] == 2
    assert (skipped["extra_cost_median"], skipped["extra_cost_total"]) == (-300.0, -600.0)


def test_check_names_a_cost_attribute_the_log_lacks(shared_data: Path) -> None:
    result = runner.invoke(app, ["check", "--log", str(shared_data / "logs" / "running_example_broken.csv"),
                                 "--model", str(shared_data / "models" / "running-example.pnml"),
                                 "--cost-attribute", "Costs"])
    assert result.exit_code == 1
    assert result.stderr.strip() == ("kaizen: error: cost attribute 'Costs': no event of the log carries it "
                                     "(attributes: Resource, costs)")


def test_inspect_profiles_a_log(shared_data: Path) -> None:
    result = runner.invoke(app, ["inspect", str(shared_data / "logs" / "running-example.xes"), "--json"])
    assert result.exit_code == 0, result.output
    profile = json.loads(result.stdout)
    assert (profile["cases"], profile["events"], profile["activities"]) == (6, 42, 8)


def test_inspect_reads_as_sizes_time_span_and_a_table_of_attributes(shared_data: Path) -> None:
    result = runner.invoke(app, ["inspect", str(shared_data / "logs" / "helpdesk.xes.gz")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("helpdesk.xes.gz: 4,580 cases, 21,348 events, 14 activities, 226 variants, "
                        "22 resources")
    assert lines[1] == "  from 2010-01-13T08:40:25+00:00 to 2014-01-03T13:20:58+00:00 (1,451.2 days)"
    assert lines[2].split() == ["attribute", "level", "type", "distinct", "missing", "examples"]
    assert lines[3].split()[:5] == ["customer", "case", "categorical", "394", "0"]
    assert lines[-1].startswith("  warning (duplicate_events): 127 events repeat")


def test_map_writes_an_svg_with_every_activity(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.svg"
    result = runner.invoke(app, ["map", str(shared_data / "logs" / "running-example.xes"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "register request" in svg


def test_a_missing_log_fails_with_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(tmp_path / "none.xes")])
    assert result.exit_code == 1
    assert "none.xes" in result.stderr and result.stderr.strip().count("\n") == 0


def test_check_names_what_the_model_reading_left_out(tmp_path: Path) -> None:
    """A modeler's export with two pools: the message flows between them are ignored, and said so."""
    model = Path(__file__).parent / "data" / "real_world" / "models" / "signavio_two_pools_message_flows.bpmn"
    log = tmp_path / "tickets.csv"
    log.write_text("case,activity,time\nT1,Classify ticket,2024-01-01T09:00:00\n"
                   "T1,Answer customer,2024-01-01T10:00:00\n", encoding="utf-8")
    shown = CliRunner().invoke(app, ["check", "--log", str(log), "--model", str(model)])
    assert shown.exit_code == 0, shown.output
    assert "model warning:" in shown.output and "2 message flows between pools ignored" in shown.output
    as_json = json.loads(CliRunner().invoke(app, ["check", "--log", str(log), "--model", str(model),
                                                  "--json"]).output)
    assert any("message flows between pools ignored" in w for w in as_json["model_warnings"])
