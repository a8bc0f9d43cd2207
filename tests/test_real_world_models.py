"""Models as Signavio, Camunda Modeler, bpmn.io and ProM export them load, and check as pm4py does.

The corpus is in tests/data/real_world/models (hand-written exports, one per construct); nets too
large or too hostile to keep as files are written by benchmarks/model_generators.py.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from eventlogs import log_from_rows
from test_models import language

from benchmarks.model_generators import (
    branch_activities,
    doubling_calls_bpmn,
    nested_subprocess_bpmn,
    parallel_bpmn,
    prom_concurrent_pnml,
)
from kaizenflow.conformance import models as models_module
from kaizenflow.conformance.alignments import align_variants
from kaizenflow.conformance.check import check_log
from kaizenflow.conformance.models import DesignedModel, ModelError, check_soundness, load_model
from kaizenflow.core.events import EventLog

CORPUS = Path(__file__).parent / "data" / "real_world" / "models"
CLAIMS = CORPUS / "camunda7_claim_boundary_events.bpmn"
OFFER = CORPUS / "camunda8_offer_event_gateway.bpmn"
CONTRACT = CORPUS / "called" / "camunda8_contract_signing.bpmn"
PROM = CORPUS / "prom_concurrent_73_places.pnml"


def log_of(traces: Iterable[Sequence[str]]) -> EventLog:
    start = datetime(2024, 1, 1)
    rows = []
    for case, trace in enumerate(traces):
        for step, activity in enumerate(trace):
            moment = start + timedelta(days=case, minutes=step)
            rows.append((f"case-{case:03d}", activity, moment.isoformat() + "Z", "clerk"))
    return log_from_rows(rows)


def pm4py_fitness(log: EventLog, net: Any, initial: Any, final: Any) -> float:
    import pm4py

    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"
    frame = pd.DataFrame({
        "case:concept:name": log.events["case_id"].astype(str),
        "concept:name": log.events["activity"].astype(str),
        "time:timestamp": log.events["timestamp"],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = pm4py.fitness_alignments(frame, net, initial, final, multi_processing=False)
    return float(result["log_fitness"])


def our_fitness(log: EventLog, model: DesignedModel) -> float:
    fitness = check_log(log, model, open_case_horizon_days=1e-9).fitness
    assert fitness is not None
    return fitness


# --- the corpus ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CORPUS.rglob("*.bpmn")) + sorted(CORPUS.rglob("*.pnml")),
                         ids=lambda p: p.name)
def test_every_export_of_the_corpus_loads_as_a_sound_net(path: Path) -> None:
    model = load_model(path)
    assert model.soundness.startswith("sound")


def test_boundary_events_interrupt_fork_off_and_catch_a_sub_processs_error() -> None:
    """Camunda 7: a non-interrupting reminder beside "Assess claim", an interrupting withdrawal
    instead of it, and an error end event inside "Pay out" caught by the sub-process's boundary."""
    model = load_model(CLAIMS)
    assert model.warnings == ()
    decided = {("Calculate amount", "Transfer money"), ("Calculate amount", "Pay out manually"),
               ("Reject claim",)}
    assessed = {("Assess claim",), ("Assess claim", "Send reminder"), ("Send reminder", "Assess claim")}
    assert language(model, 6) == {("Register claim", "Close claim")} | {
        ("Register claim", *a, *d) for a in assessed for d in decided}


def test_a_called_process_in_another_file_of_the_folder_is_inlined() -> None:
    model = load_model(CORPUS / "signavio_order_call_activity.bpmn")
    assert language(model, 5) == {
        ("Enter order", "Request credit score", "Approve credit", "Ship goods"),
        ("Enter order", "Request credit score", "Ask for prepayment", "Ship goods"),
    }


def test_a_called_process_found_nowhere_is_one_activity_and_the_warning_says_so() -> None:
    model = load_model(OFFER)
    assert "Sign contract" in model.activities
    assert model.warnings == (f"{OFFER}: <callActivity id=\"Call_Contract\"> calls 'contract-signing', "
                              "which is neither in this file, in its folder nor in the models given: it is "
                              "checked as one activity 'Sign contract'",)


def test_a_camunda_8_call_is_resolved_by_the_models_given() -> None:
    model = load_model(OFFER, called_models={"contract-signing": CONTRACT})
    assert model.warnings == ()
    assert language(model, 4) == {
        ("Send offer", "Archive offer"),
        ("Send offer", "Customer signs", "Manager signs"),
        ("Send offer", "Manager signs", "Customer signs"),
    }


def test_the_called_models_change_the_model_hash() -> None:
    alone = load_model(OFFER)
    with_contract = load_model(OFFER, called_models={"contract-signing": CONTRACT})
    assert alone.model_hash != with_contract.model_hash


def test_a_called_model_that_does_not_exist_is_named() -> None:
    with pytest.raises(ModelError, match="called model .*missing.bpmn not found"):
        load_model(OFFER, called_models={"contract-signing": CORPUS / "missing.bpmn"})


def test_elements_of_a_sub_process_without_start_event_all_start_and_all_must_end() -> None:
    model = load_model(CORPUS / "bpmnio_subprocess_without_start.bpmn")
    assert language(model, 6) == {
        ("Receive goods", "Count items", "Check quality", "Label pallet", "Shelve pallet"),
        ("Receive goods", "Check quality", "Count items", "Label pallet", "Shelve pallet"),
    }


def test_message_flows_between_pools_are_ignored_with_a_note() -> None:
    path = CORPUS / "signavio_two_pools_message_flows.bpmn"
    model = load_model(path)
    assert language(model, 3) == {("Classify ticket", "Answer customer")}
    assert model.warnings == (f"{path}: 2 message flows between pools ignored: only the sequence flows of "
                              "process 'sid-helpdesk-process' are checked",)


# --- fitness as pm4py computes it ----------------------------------------------------------


def test_fitness_equals_pm4pys_where_pm4py_reads_the_bpmn_itself() -> None:
    import pm4py

    path = CORPUS / "signavio_two_pools_message_flows.bpmn"
    log = log_of([("Classify ticket", "Answer customer")] * 3 + [("Answer customer",),
                 ("Classify ticket", "Escalate", "Answer customer")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net, initial, final = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(path)))
    expected = pm4py_fitness(log, net, initial, final)
    assert our_fitness(log, load_model(path)) == pytest.approx(expected, abs=1e-9)


def test_fitness_on_a_prom_export_equals_pm4pys_reading_of_the_pnml(tmp_path: Path) -> None:
    import pm4py

    path = tmp_path / "prom_4.pnml"
    path.write_text(prom_concurrent_pnml(4), encoding="iso-8859-1")
    conforming = ("Open", *(a for b in range(4) for a in branch_activities(b)), "Close")
    log = log_of([conforming, conforming, tuple(a for a in conforming if a != "Inspect part 3"),
                  (*conforming, "Archive"), tuple(a for a in conforming if a != "Fit part 1"),
                  ("Open", "Fit part 0", "Prepare part 0", *conforming[4:])])
    assert our_fitness(log, load_model(path)) == pytest.approx(
        pm4py_fitness(log, *pm4py.read_pnml(str(path))), abs=1e-9)


def test_the_73_place_prom_net_is_read_as_pm4py_reads_it_and_its_cheapest_run_is_pm4pys() -> None:
    """The net of issue 23: our own search used to give up on the model's cheapest run and call
    the end unreachable; pm4py aligns it."""
    import pm4py
    from pm4py.algo.conformance.alignments.petri_net.variants import state_equation_a_star

    from kaizenflow.conformance.alignments import MOVE_COST, TAU_COST, _model_shortest_path, _pm4py_cost
    from kaizenflow.conformance.search import compile_net

    model = load_model(PROM)
    net, initial, final = pm4py.read_pnml(str(PROM))
    assert len(model.net.places) == 73
    assert _shape(model.net, model.initial_marking, model.final_marking) == _shape(net, initial, final)
    compiled = compile_net(model.net, model.initial_marking, model.final_marking)
    standard = [MOVE_COST if label is not None else TAU_COST for label in compiled.labels]
    run = _model_shortest_path(model, compiled, standard)
    assert _pm4py_cost(run) == state_equation_a_star.get_best_worst_cost(net, initial, final)


def _shape(net: Any, initial: Any, final: Any) -> tuple[object, ...]:
    labels = sorted((str(t.name), str(t.label)) for t in net.transitions)
    arcs = sorted((str(a.source.name), str(a.target.name), a.weight) for a in net.arcs)
    return labels, arcs, [sorted((str(p.name), n) for p, n in m.items()) for m in (initial, final)]


@pytest.mark.parametrize("path, traces", [
    (CLAIMS, [("Register claim", "Assess claim", "Calculate amount", "Transfer money"),
              ("Register claim", "Send reminder", "Assess claim", "Reject claim"),
              ("Register claim", "Close claim"),
              ("Register claim", "Assess claim", "Calculate amount", "Pay out manually", "Transfer money"),
              ("Assess claim", "Close claim")]),
    (CORPUS / "bpmnio_subprocess_without_start.bpmn",
     [("Receive goods", "Check quality", "Count items", "Label pallet", "Shelve pallet"),
      ("Receive goods", "Count items", "Shelve pallet")]),
    (CORPUS / "signavio_order_call_activity.bpmn",
     [("Enter order", "Request credit score", "Approve credit", "Ship goods"),
      ("Enter order", "Approve credit", "Ask for prepayment", "Ship goods")]),
], ids=lambda value: value.name if isinstance(value, Path) else "")
def test_fitness_on_nets_pm4py_cannot_read_equals_pm4pys_alignments_of_our_net(
    path: Path, traces: list[tuple[str, ...]]
) -> None:
    """pm4py's BPMN converter drops boundary events, calls and start-less sub-processes; on our
    net of the same model its alignments give the fitness ours give."""
    model = load_model(path)
    log = log_of(traces)
    assert our_fitness(log, model) == pytest.approx(pm4py_fitness(log, *model.pm4py_net()), abs=1e-9)


# --- large concurrent nets and the limits of issue 24 --------------------------------------


@pytest.mark.parametrize("branches", [20, 30])
def test_a_bpmn_with_many_parallel_branches_loads_and_checks(tmp_path: Path, branches: int) -> None:
    path = tmp_path / f"parallel_{branches}.bpmn"
    path.write_text(parallel_bpmn(branches), encoding="utf-8")
    model = load_model(path)
    assert model.soundness.startswith("sound (decided by reduction")
    conforming = tuple(f"Branch {b} step {s}" for b in reversed(range(branches)) for s in range(2))
    missing = conforming[1:]
    fits, misses = align_variants(model, [(conforming, 1), (missing, 1)])
    assert (fits.fitness, fits.checked) == (1.0, True)
    assert misses.checked and misses.cost is not None and misses.cost // 10_000 == 1  # one model move


@pytest.mark.parametrize("branches", [15, 20])
def test_a_prom_net_with_millions_of_markings_loads_and_its_cheapest_run_is_found(
    tmp_path: Path, branches: int
) -> None:
    path = tmp_path / f"prom_{branches}.pnml"
    path.write_text(prom_concurrent_pnml(branches), encoding="iso-8859-1")
    model = load_model(path)  # 5 states a branch: 5**15 markings at least
    assert model.soundness.startswith("sound (decided by reduction")
    assert align_variants(model, []) == []  # the best worst cost no longer gives up


def test_a_net_whose_exploration_runs_out_of_budget_loads_as_not_decided(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not free-choice, so the reduction rules do not decide it; the exploration is cut short."""
    path = tmp_path / "memory.pnml"
    marking = "<initialMarking><text>1</text></initialMarking>"
    places = ["start", "p", "m1", "m2", "q", "end"]
    arcs = [("start", "a"), ("a", "p"), ("a", "m1"), ("start", "b"), ("b", "p"), ("b", "m2"), ("p", "c"),
            ("c", "q"), ("q", "d"), ("m1", "d"), ("q", "e"), ("m2", "e"), ("d", "end"), ("e", "end")]
    path.write_text(
        "<pnml><net id='n'><page id='pg'>"
        + "".join(f"<place id='{p}'>{marking if p == 'start' else ''}</place>" for p in places)
        + "".join(f"<transition id='{t}'><name><text>{t.upper()}</text></name></transition>" for t in "abcde")
        + "".join(f"<arc id='{s}-{t}' source='{s}' target='{t}'/>" for s, t in arcs)
        + "</page><finalmarkings><marking><place idref='end'><text>1</text></place></marking>"
          "</finalmarkings></net></pnml>", encoding="utf-8")
    monkeypatch.setattr(models_module, "check_soundness", functools.partial(check_soundness, max_states=3))
    model = load_model(path)
    assert model.soundness == "not decided: more than 3 reachable markings; the end can be reached"
    assert model.warnings == (f"{path}: soundness not decided: more than 3 reachable markings; the end can "
                              "be reached",)


def test_1200_nested_sub_processes_are_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nested.bpmn"
    path.write_text(nested_subprocess_bpmn(1200), encoding="utf-8")
    with pytest.raises(ModelError) as error:
        load_model(path)
    assert str(error.value) == (f'{path}: <subProcess id="Sub_50"> nests sub-processes and called processes '
                                "more than 50 deep (the limit)")


def test_40_nested_sub_processes_load() -> None:
    from kaizenflow.conformance.bpmn import bpmn_net, parse_model_xml

    text = nested_subprocess_bpmn(40).encode()
    read = bpmn_net(parse_model_xml(Path("nested.bpmn"), text), Path("nested.bpmn"))
    assert {t.label for t in read.net.transitions if t.label} == {"Innermost"}


@pytest.mark.parametrize("levels", [16, 24])
def test_processes_calling_the_next_twice_are_refused_at_the_expansion_limit(
    tmp_path: Path, levels: int
) -> None:
    path = tmp_path / "doubling.bpmn"
    path.write_text(doubling_calls_bpmn(levels), encoding="utf-8")
    assert path.stat().st_size < 10_000
    limit = r"exceed 20,000 elements once its sub-processes and called processes are inlined \(the limit\)$"
    with pytest.raises(ModelError, match=limit) as error:
        load_model(path)
    assert "\n" not in str(error.value)


def test_a_call_of_a_process_calling_itself_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "recursive.bpmn"
    recursive = doubling_calls_bpmn(3).replace('calledElement="P2"', 'calledElement="P1"')
    path.write_text(recursive, encoding="utf-8")
    with pytest.raises(ModelError, match="<callActivity id=\"C1_a\"> calls 'P1' from inside itself"):
        load_model(path, process="P0")


def test_a_non_interrupting_path_that_joins_the_main_flow_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "joins.bpmn"
    path.write_text(CLAIMS.read_text(encoding="utf-8").replace(
        '<bpmn:sequenceFlow id="Flow_1m2" sourceRef="Activity_Remind" targetRef="Event_Reminded" />',
        '<bpmn:sequenceFlow id="Flow_1m2" sourceRef="Activity_Remind" targetRef="Gateway_Merge" />').replace(
        '<bpmn:endEvent id="Event_Reminded" name="Reminder sent">\n'
        "      <bpmn:incoming>Flow_1m2</bpmn:incoming>\n    </bpmn:endEvent>", ""), encoding="utf-8")
    joins = "<boundaryEvent id=\"Event_Reminder\"> is non-interrupting and its path joins the rest of the " \
            "process at 'Gateway_Merge'"
    with pytest.raises(ModelError, match=joins):
        load_model(path)


def test_a_process_s_models_mapping_resolves_its_call_activities_in_a_night(tmp_path: Path) -> None:
    import yaml

    from kaizenflow.pipeline import stages
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    (tmp_path / "offers.csv").write_text("case,activity,time\nO1,Send offer,2024-01-01T09:00:00\n",
                                         encoding="utf-8")
    config_path = tmp_path / "kaizen.yaml"
    config_path.write_text(yaml.safe_dump({"processes": [{
        "name": "offers", "model": str(OFFER), "models": {"contract-signing": str(CONTRACT)},
        "sources": [{"name": "offers", "file": "offers.csv"}],
        "tasks": {"owners": {"default": "sales@example.com"}}}]}), encoding="utf-8")
    config = load_config(config_path)
    model = stages.designed_model(Resources(config), config.processes[0])
    assert model.warnings == () and {"Customer signs", "Manager signs"} <= model.activities
