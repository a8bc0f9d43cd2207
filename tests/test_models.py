"""Designed models: BPMN as modelers export it, PNML and PTML, soundness, and activity vocabulary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kaizenflow.conformance.models import DesignedModel, IndexedNet, ModelError, check_soundness, load_model
from kaizenflow.conformance.vocabulary import compare_vocabulary, normalized, suggest_mapping

MODELS = Path(__file__).parent / "models"

Trace = tuple[str, ...]


def language(model: DesignedModel, max_length: int) -> set[Trace]:
    """Every activity sequence of at most ``max_length`` that takes the net from start to end."""
    net = IndexedNet.of(model.net)
    end = net.marking(model.final_marking)

    def closure(markings: set[tuple[int, ...]]) -> set[tuple[int, ...]]:
        reached, stack = set(markings), list(markings)
        while stack:
            marking = stack.pop()
            for t in net.enabled(marking):
                after = net.fire(marking, t)
                if net.transitions[t].label is None and after not in reached:
                    reached.add(after)
                    stack.append(after)
        return reached

    layer: dict[Trace, set[tuple[int, ...]]] = {(): closure({net.marking(model.initial_marking)})}
    traces: set[Trace] = set()
    for _ in range(max_length + 1):
        following: dict[Trace, set[tuple[int, ...]]] = {}
        for trace, markings in layer.items():
            if end in markings:
                traces.add(trace)
            for marking in markings:
                for t in net.enabled(marking):
                    label = net.transitions[t].label
                    if label is not None:
                        following.setdefault(trace + (label,), set()).add(net.fire(marking, t))
        layer = {trace: closure(markings) for trace, markings in following.items()}
    return traces


def pm4py_bpmn_model(path: Path) -> DesignedModel:
    import pm4py

    net, initial, final = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(path)))
    return DesignedModel(name=path.name, net=net, initial_marking=initial, final_marking=final,
                         activities=frozenset(), model_hash="pm4py")


# --- reference models -----------------------------------------------------------------------


def test_a22_loads_as_a_sound_workflow_net(shared_data: Path) -> None:
    model = load_model(shared_data / "models" / "a22.pnml")
    assert model.soundness.startswith("sound")
    assert len(model.activities) == 22


@pytest.mark.parametrize("name, activities", [
    ("receipt.bpmn", 27), ("running-example.bpmn", 8), ("running-example.pnml", 8),
])
def test_reference_models_load(shared_data: Path, name: str, activities: int) -> None:
    model = load_model(shared_data / "models" / name)
    assert model.soundness.startswith("sound")
    assert len(model.activities) == activities


@pytest.mark.filterwarnings("ignore")  # woflan is deprecated and warns about scipy
@pytest.mark.parametrize("name", ["a22.pnml", "receipt.bpmn", "running-example.bpmn"])
def test_our_soundness_verdict_agrees_with_woflan(shared_data: Path, name: str) -> None:
    import pm4py

    model = load_model(shared_data / "models" / name)
    verdict, _ = pm4py.analysis.check_soundness(*model.pm4py_net())
    assert verdict is True


@pytest.mark.parametrize("path, length", [
    ("running-example.bpmn", 8), ("receipt.bpmn", 3),
])
def test_our_bpmn_net_allows_what_pm4py_converter_allows_where_pm4py_is_right(
    shared_data: Path, path: str, length: int
) -> None:
    """Receipt and the running example use only tasks, exclusive and parallel gateways and plain events."""
    file = shared_data / "models" / path
    assert language(load_model(file), length) == language(pm4py_bpmn_model(file), length)


def test_the_purchase_to_pay_sample_is_sound_and_unchanged_against_pm4py() -> None:
    from kaizenflow.sample_logs import BPMN_PATH

    model = load_model(BPMN_PATH)
    assert model.soundness.startswith("sound")
    assert language(model, 8) == language(pm4py_bpmn_model(BPMN_PATH), 8)


# --- BPMN constructs --------------------------------------------------------------------------


def test_a_pool_with_lanes_is_read_and_message_flows_to_the_other_pool_are_ignored() -> None:
    model = load_model(MODELS / "pool_lanes.bpmn")
    assert language(model, 6) == {
        ("Check order", "Reject order"),
        ("Check order", "Ship goods", "Confirm order"),
    }


def test_line_breaks_in_names_become_spaces() -> None:
    model = load_model(MODELS / "signavio_lanes.bpmn")
    assert "Register claim" in model.activities


def test_a_signavio_export_with_a_parallel_block_allows_both_orders() -> None:
    model = load_model(MODELS / "signavio_lanes.bpmn")
    assert language(model, 6) == {
        ("Register claim", "Assess damage", "Check policy", "Decide"),
        ("Register claim", "Check policy", "Assess damage", "Decide"),
    }


def test_nested_sub_processes_are_flattened_into_the_process() -> None:
    model = load_model(MODELS / "subprocess.bpmn")
    assert language(model, 8) == {
        ("Receive invoice", "Check invoice", "Pay invoice", "Archive"),
        ("Receive invoice", "Check invoice", "Dispute invoice", "Call supplier", "Archive"),
    }


def test_an_inclusive_block_takes_one_or_more_branches_never_none() -> None:
    model = load_model(MODELS / "inclusive.bpmn")
    assert language(model, 6) == {
        ("Open account", "Send welcome letter", "Activate"),
        ("Open account", "Issue card", "Activate"),
        ("Open account", "Send welcome letter", "Issue card", "Activate"),
        ("Open account", "Issue card", "Send welcome letter", "Activate"),
    }


def test_intermediate_timer_message_and_none_events_are_silent() -> None:
    model = load_model(MODELS / "intermediate_events.bpmn")
    assert language(model, 6) == {("Send reminder", "Close file")}


def test_implicit_gateways_split_in_parallel_and_merge_exclusively() -> None:
    model = load_model(MODELS / "implicit_gateways.bpmn")
    both = [("Plan trip", "Book hotel", "Book flight"), ("Plan trip", "Book flight", "Book hotel")]
    assert language(model, 6) == {start + ("Pay",) for start in both} | {
        start + ("Pay", "Fix booking", "Pay") for start in both
    }


def test_a_call_activity_to_a_process_of_the_same_file_is_inlined() -> None:
    model = load_model(MODELS / "call_activity.bpmn")
    assert language(model, 6) == {("Receive claim", "Check identity", "Verify address", "Pay claim")}


def test_a_task_with_a_loop_marker_runs_one_or_more_times() -> None:
    model = load_model(MODELS / "loop_task.bpmn")
    assert language(model, 5) == {
        ("Draft",) + ("Review",) * n + ("Publish",) for n in (1, 2, 3)
    }


def test_a_sequential_multi_instance_sub_process_repeats_and_a_test_before_loop_may_not_run() -> None:
    model = load_model(MODELS / "loop_subprocess.bpmn")
    assert language(model, 6) == {
        ("Open", "Pick", "Pack", "Ship"),
        ("Open", "Pick", "Pack", "Check", "Ship"),
        ("Open", "Pick", "Pack", "Check", "Check", "Ship"),
        ("Open", "Pick", "Pack", "Pick", "Pack", "Ship"),
    }


def test_several_pools_with_a_process_each_need_a_choice() -> None:
    with pytest.raises(ModelError) as error:
        load_model(MODELS / "two_pools.bpmn")
    assert "Participant_Buyer" in str(error.value) and "Participant_Supplier" in str(error.value)


@pytest.mark.parametrize("choice", ["Supplier", "Participant_Supplier", "Process_Supplier"])
def test_a_pool_is_chosen_by_its_name_or_id_or_its_process_id(choice: str) -> None:
    model = load_model(MODELS / "two_pools.bpmn", process=choice)
    assert language(model, 4) == {("Ship goods", "Send invoice")}


def test_choosing_another_pool_gives_another_model_hash() -> None:
    buyer = load_model(MODELS / "two_pools.bpmn", process="Buyer")
    supplier = load_model(MODELS / "two_pools.bpmn", process="Supplier")
    assert buyer.model_hash != supplier.model_hash


def test_an_unknown_pool_choice_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match="Participant_Buyer"):
        load_model(MODELS / "two_pools.bpmn", process="Warehouse")


def test_an_event_based_gateway_is_a_choice_by_whichever_event_comes_first() -> None:
    model = load_model(MODELS / "event_based_gateway.bpmn")
    assert language(model, 4) == {("Ask customer", "Process answer"), ("Ask customer", "Cancel")}


def test_an_interrupting_boundary_event_takes_its_path_instead_of_the_activity() -> None:
    model = load_model(MODELS / "boundary_event.bpmn")
    assert language(model, 4) == {("Approve",), ("Escalate",)}


def test_a_call_to_a_process_found_nowhere_is_one_activity_with_a_warning() -> None:
    model = load_model(MODELS / "call_unknown_process.bpmn")
    assert language(model, 3) == {("Credit scoring",)}
    assert model.warnings == (f'{MODELS / "call_unknown_process.bpmn"}: <callActivity id="Call_Scoring"> '
                              "calls 'credit-scoring', which is neither in this file, in its folder nor in "
                              "the models given: it is checked as one activity 'Credit scoring'",)


def test_a_process_without_start_event_starts_where_no_flow_comes_in_with_a_warning() -> None:
    model = load_model(MODELS / "no_start_event.bpmn")
    assert language(model, 3) == {("A",)}
    assert "has end events but no start event" in model.warnings[0]


# --- refused BPMN -----------------------------------------------------------------------------


@pytest.mark.parametrize("file, element", [
    ("complex_gateway.bpmn", '<complexGateway id="Gateway_Complex">'),
    ("ad_hoc_subprocess.bpmn", '<adHocSubProcess id="AdHoc_Research">'),
    ("event_subprocess.bpmn", '<subProcess id="EventSub_Cancel">'),
    ("unknown_reference.bpmn", '<sequenceFlow id="F2">'),
    ("unnamed_task.bpmn", '<task id="Task_Nameless">'),
])
def test_an_unusable_element_is_refused_by_its_tag_and_id(file: str, element: str) -> None:
    with pytest.raises(ModelError) as error:
        load_model(MODELS / file)
    assert str(error.value).startswith(str(MODELS / file))
    assert element in str(error.value)


def process_file(tmp_path: Path, body: str) -> Path:
    """A one-process BPMN file around ``body``, with a start event "Start" and a task "Task_A"."""
    path = tmp_path / "model.bpmn"
    path.write_text(
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">'
        '<bpmn:process id="P"><bpmn:startEvent id="Start" /><bpmn:task id="Task_A" name="A" />'
        f'<bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Task_A" />{body}</bpmn:process>'
        "</bpmn:definitions>"
    )
    return path


@pytest.mark.parametrize("body, element", [
    ('<bpmn:task id="Task_B" name="B" /><bpmn:endEvent id="End" />'
     '<bpmn:sequenceFlow id="F1" sourceRef="Task_A" targetRef="Task_B">'
     "<bpmn:conditionExpression>x</bpmn:conditionExpression></bpmn:sequenceFlow>"
     '<bpmn:sequenceFlow id="F2" sourceRef="Task_A" targetRef="End" />'
     '<bpmn:sequenceFlow id="F3" sourceRef="Task_B" targetRef="End" />', '<sequenceFlow id="F1">'),
    ('<bpmn:intermediateThrowEvent id="Link_Out"><bpmn:linkEventDefinition name="L" />'
     '</bpmn:intermediateThrowEvent><bpmn:sequenceFlow id="F1" sourceRef="Task_A" targetRef="Link_Out" />',
     '<intermediateThrowEvent id="Link_Out">'),
    ('<bpmn:subProcess id="Sub_Parallel"><bpmn:multiInstanceLoopCharacteristics />'
     '<bpmn:startEvent id="S" /><bpmn:endEvent id="E" />'
     '<bpmn:sequenceFlow id="S1" sourceRef="S" targetRef="E" />'
     '</bpmn:subProcess>', '<subProcess id="Sub_Parallel">'),
    ('<bpmn:task id="Task_A" name="again" />', '<task id="Task_A">'),
    ('<bpmn:endEvent id="End" /><bpmn:sequenceFlow id="F1" sourceRef="Task_A" targetRef="End" />'
     '<bpmn:sequenceFlow id="F2" sourceRef="End" targetRef="Task_A" />', '<endEvent id="End">'),
    ('<bpmn:sequenceFlow id="F1" sourceRef="Task_A" targetRef="Task_A" />', '<process id="P">'),
])
def test_other_unusable_constructs_are_refused_by_their_tag_and_id(
    tmp_path: Path, body: str, element: str
) -> None:
    with pytest.raises(ModelError) as error:
        load_model(process_file(tmp_path, body))
    assert element in str(error.value)


def test_a_flow_to_a_missing_element_names_the_missing_id() -> None:
    with pytest.raises(ModelError, match="'Task_Deleted', which does not exist"):
        load_model(MODELS / "unknown_reference.bpmn")


def test_a_model_that_is_not_well_formed_names_the_file_and_position() -> None:
    with pytest.raises(ModelError, match=r"not_well_formed\.bpmn: not well-formed XML: .*line 5"):
        load_model(MODELS / "not_well_formed.bpmn")


def test_xml_declaring_entities_is_refused_before_any_parser_expands_them() -> None:
    with pytest.raises(ModelError, match="DTD or entities"):
        load_model(MODELS / "entity_expansion.bpmn")


def test_an_exclusive_choice_joined_in_parallel_is_not_sound_and_the_path_is_named() -> None:
    with pytest.raises(ModelError, match="not a sound workflow net: after (A|B) a case is stuck, waiting in "
                                         "F[45]→Join_Wrong"):
        load_model(MODELS / "deadlock.bpmn")


def test_parallel_branches_into_separate_end_events_are_not_sound() -> None:
    with pytest.raises(ModelError, match="not a sound workflow net: .*the end is reached with work left"):
        load_model(MODELS / "parallel_ends.bpmn")


# --- PNML, PTML and soundness ---------------------------------------------------------------


def test_a_process_tree_loads_as_a_net() -> None:
    model = load_model(MODELS / "review.ptml")
    assert ("Submit", "Reject", "Notify author") in language(model, 4)


def test_a_pnml_without_final_marking_ends_in_its_one_sink_place() -> None:
    model = load_model(MODELS / "no_final_marking.pnml")
    assert language(model, 3) == {("Submit", "Approve")}


def test_an_unbounded_net_is_refused_with_the_repeating_step() -> None:
    with pytest.raises(ModelError, match="after Open, Remind can repeat and pile tokens up"):
        load_model(MODELS / "unbounded.pnml")


def test_choosing_a_process_in_a_pnml_file_is_refused() -> None:
    with pytest.raises(ModelError, match="only applies to BPMN"):
        load_model(MODELS / "no_final_marking.pnml", process="x")


def _net(arcs: list[tuple[str, str, int]], labels: dict[str, str | None]) -> tuple[Any, Any, Any]:
    """A net from (source, target, weight) arcs; names in ``labels`` are transitions, others places."""
    from pm4py.objects.petri_net.obj import Marking, PetriNet
    from pm4py.objects.petri_net.utils.petri_utils import add_arc_from_to

    net = PetriNet("hand-made")
    nodes: dict[str, Any] = {}
    for source, target, _ in arcs:
        for name in (source, target):
            if name in nodes:
                continue
            if name in labels:
                nodes[name] = PetriNet.Transition(name, labels[name])
                net.transitions.add(nodes[name])
            else:
                nodes[name] = PetriNet.Place(name)
                net.places.add(nodes[name])
    for source, target, weight in arcs:
        add_arc_from_to(nodes[source], nodes[target], net, weight=weight)
    return net, Marking({nodes["start"]: 1}), Marking({nodes["end"]: 1})


def test_a_loop_that_can_never_finish_is_not_sound() -> None:
    net, initial, final = _net(
        [("start", "x", 1), ("x", "end", 1), ("start", "y", 1), ("y", "p", 1), ("p", "spin", 1),
         ("spin", "q", 1), ("q", "back", 1), ("back", "p", 1), ("p", "never", 2), ("never", "end", 1)],
        {"x": "X", "y": "Y", "spin": "Spin", "back": None, "never": "Never"},
    )
    verdict = check_soundness(net, initial, final)
    assert not verdict.sound and verdict.reason.startswith("after Y a case can no longer finish")


def test_an_activity_that_can_never_happen_is_not_sound() -> None:
    net, initial, final = _net(
        [("start", "a", 1), ("a", "p", 1), ("p", "b", 1), ("b", "end", 1), ("p", "c", 2), ("c", "end", 1)],
        {"a": "A", "b": "B", "c": "Never"},
    )
    assert check_soundness(net, initial, final).reason == "never possible: 'Never'"


def test_a_net_with_two_start_places_is_not_a_workflow_net() -> None:
    net, initial, final = _net([("start", "a", 1), ("other", "a", 1), ("a", "end", 1)], {"a": "A"})
    assert "one place to start" in check_soundness(net, initial, final).reason


def test_a_block_structured_net_is_sound_by_reduction_without_exploring_its_markings() -> None:
    model = load_model(MODELS / "signavio_lanes.bpmn")
    verdict = check_soundness(model.net, model.initial_marking, model.final_marking, max_states=3)
    assert verdict.sound is True and verdict.reason.startswith("sound (decided by reduction")


def _not_free_choice() -> tuple[Any, Any, Any]:
    """Sound, but no reduction rule applies: D and E share q and each needs its own memory place."""
    return _net(
        [("start", "a", 1), ("a", "p", 1), ("a", "m1", 1), ("start", "b", 1), ("b", "p", 1), ("b", "m2", 1),
         ("p", "c", 1), ("c", "q", 1), ("q", "d", 1), ("m1", "d", 1), ("q", "e", 1), ("m2", "e", 1),
         ("d", "end", 1), ("e", "end", 1)],
        {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"},
    )


def test_a_net_the_rules_cannot_reduce_is_explored() -> None:
    verdict = check_soundness(*_not_free_choice())
    assert verdict.sound is True and verdict.reason == "sound (6 reachable markings)"


def test_beyond_the_state_limit_soundness_is_not_decided_rather_than_denied() -> None:
    verdict = check_soundness(*_not_free_choice(), max_states=3)
    assert verdict.sound is None
    assert verdict.reason == "not decided: more than 3 reachable markings; the end can be reached"


def test_an_unsound_net_beyond_the_state_limit_is_refused_only_by_a_search_that_finished() -> None:
    from kaizenflow.conformance.bpmn import read_bpmn

    read = read_bpmn(MODELS / "deadlock.bpmn")
    verdict = check_soundness(read.net, read.initial_marking, read.final_marking, max_states=2)
    assert verdict.sound is False
    assert verdict.reason == ("the end can never be reached (pm4py's A* on the state equation searched "
                              "every way)")


# --- activity vocabulary -------------------------------------------------------------------


def test_vocabulary_reports_unseen_model_and_unknown_log_activities_after_mapping() -> None:
    report = compare_vocabulary(["Create PO", "Approve PO", "Pay"], ["create_po", "Pay", "Call vendor"],
                                mapping={"create_po": "Create PO"})
    assert report.unseen_model_activities == ("Approve PO",)
    assert report.unknown_log_activities == ("Call vendor",)
    assert not report.matches


def test_vocabulary_suggests_near_matches_without_applying_them() -> None:
    report = compare_vocabulary(["Approve PO"], ["approve  p.o."])
    assert report.suggestions == {"approve  p.o.": "Approve PO"}
    assert report.unknown_log_activities == ("approve  p.o.",)


def test_vocabulary_suggests_nothing_where_a_near_match_is_ambiguous() -> None:
    assert suggest_mapping(["Approve PO", "approve-po"], ["APPROVE PO"]) == {}
    assert suggest_mapping(["Approve PO"], ["approve po", "APPROVE_PO"]) == {}


def test_vocabulary_reports_mapping_targets_the_model_lacks() -> None:
    report = compare_vocabulary(["Pay"], ["pay"], mapping={"pay": "Pay invoice"})
    assert report.unknown_mapping_targets == ("Pay invoice",)


def test_vocabulary_description_names_the_activities_and_suggests_the_mapping() -> None:
    text = compare_vocabulary(["Approve PO", "Pay"], ["approve po"]).describe()
    assert "1 log activity unknown to the model: 'approve po'" in text
    assert "2 model activities never seen in the log: 'Approve PO', 'Pay'" in text
    assert "'approve po' → 'Approve PO'" in text


def test_vocabulary_description_of_a_match_says_so() -> None:
    assert compare_vocabulary(["A"], ["A"]).describe() == "The log and the model name the same activities."


def test_normalized_names_ignore_case_spaces_and_punctuation() -> None:
    assert normalized("Approve P.O.") == normalized(" approve_po ") == "approvepo"
