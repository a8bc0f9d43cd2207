"""Classifying alignment moves into skipped, inserted, wrong-order and repeated deviations."""

from kaizenflow.conformance.deviations import classify_moves
from kaizenflow.conformance.types import Move


def sync(a: str) -> Move:
    return Move(a, a)


def log(a: str) -> Move:
    return Move(a, None)


def model(a: str) -> Move:
    return Move(None, a)


def test_a_fitting_alignment_has_no_deviation() -> None:
    result = classify_moves((sync("a"), sync("b"), sync("c")))
    assert result.deviations == () and result.pending == ()


def test_a_model_move_inside_the_trace_is_a_skipped_activity() -> None:
    result = classify_moves((sync("a"), model("b"), sync("c")))
    assert result.deviations == (("skipped", "b"),)


def test_a_log_move_of_an_activity_done_nowhere_else_is_inserted() -> None:
    result = classify_moves((sync("a"), log("x"), sync("b")))
    assert result.deviations == (("inserted", "x"),)


def test_a_log_move_of_an_activity_also_done_in_step_is_a_repetition() -> None:
    result = classify_moves((sync("a"), sync("b"), log("b"), sync("c")))
    assert result.deviations == (("repeated", "b"),)


def test_a_log_and_a_model_move_of_one_activity_are_one_wrong_order() -> None:
    result = classify_moves((log("c"), sync("a"), sync("b"), model("c")))
    assert result.deviations == (("wrong_order", "c"),)
    assert result.pending == ()


def test_a_finished_case_skipped_every_unmatched_model_move() -> None:
    result = classify_moves((sync("a"), model("b"), model("c")))
    assert result.deviations == (("skipped", "b"), ("skipped", "c"))


def test_the_last_pending_model_moves_of_a_running_case_are_not_deviations() -> None:
    result = classify_moves((sync("a"), model("b"), sync("c"), model("d"), model("e")), pending=2)
    assert result.deviations == (("skipped", "b"),)
    assert result.pending == ("d", "e")


def test_a_wrong_order_pair_is_never_taken_for_pending_work() -> None:
    result = classify_moves((log("c"), sync("a"), model("b"), model("c")), pending=2)
    assert result.deviations == (("wrong_order", "c"),)
    assert result.pending == ("b",)


def test_silent_model_moves_are_ignored() -> None:
    result = classify_moves((sync("a"), Move(None, None), sync("b")))
    assert result.deviations == ()
