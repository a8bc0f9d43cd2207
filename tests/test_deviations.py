"""Classifying alignment moves into skipped, inserted, wrong-order and repeated deviations."""

from conformance.deviations import classify_moves
from conformance.types import Move


def sync(a: str) -> Move:
    return Move(a, a)


def log(a: str) -> Move:
    return Move(a, None)


def model(a: str) -> Move:
    return Move(None, a)


def test_a_fitting_alignment_has_no_deviation() -> None:
    result = classify_moves((sync("a"), sync("b"), sync("c")))
    assert result.deviations == () and result.trailing_skips == ()


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
    assert result.trailing_skips == ()


def test_model_moves_after_the_last_event_are_trailing_not_skipped() -> None:
    result = classify_moves((sync("a"), model("b"), model("c")))
    assert result.deviations == ()
    assert result.trailing_skips == ("b", "c")


def test_silent_model_moves_are_ignored() -> None:
    result = classify_moves((sync("a"), Move(None, None), sync("b")))
    assert result.deviations == ()
