"""Rules beside the model: service levels, duties, durations, required and forbidden work, attributes."""

import dataclasses

import pytest
from eventlogs import log_from_rows

from kaizenflow.conformance.rules import (
    AttributeCondition,
    CaseDuration,
    ForbiddenActivity,
    FourEyes,
    MandatoryActivity,
    SegregationOfDuties,
    Sla,
    check_rules,
    parse_condition,
)
from kaizenflow.conformance.types import RULE_KINDS
from kaizenflow.core.events import EventLog


def test_an_sla_breach_is_reported_with_its_duration() -> None:
    log = log_from_rows([
        ("late", "invoice", "2024-01-01T08:00:00Z", "u1"),
        ("late", "pay", "2024-01-04T08:00:00Z", "u2"),
        ("ok", "invoice", "2024-01-01T08:00:00Z", "u1"),
        ("ok", "pay", "2024-01-02T08:00:00Z", "u2"),
    ])
    found = check_rules(log, [Sla(name="pay in 2 days", from_activity="invoice", to_activity="pay",
                                  max_hours=48)])
    assert [(d.case_id, d.kind, d.activity) for d in found] == [("late", "sla_breach", "pay in 2 days")]
    assert "3.0 d" in found[0].detail


def test_an_sla_limit_can_come_from_a_case_attribute_in_days() -> None:
    rows = [
        ("short", "invoice", "2024-01-01T08:00:00Z", "u"), ("short", "pay", "2024-01-20T08:00:00Z", "u"),
        ("long", "invoice", "2024-01-01T08:00:00Z", "u"), ("long", "pay", "2024-01-20T08:00:00Z", "u"),
    ]
    log = log_from_rows(rows, {"terms": {"short": "14", "long": "30"}})
    found = check_rules(log, [Sla(name="terms", from_activity="invoice", to_activity="pay",
                                  max_days_attribute="terms")])
    assert [d.case_id for d in found] == ["short"]


def test_an_sla_counts_only_the_end_after_the_start() -> None:
    log = log_from_rows([
        ("c", "pay", "2024-01-01T08:00:00Z", "u"),
        ("c", "invoice", "2024-01-10T08:00:00Z", "u"),
        ("c", "pay", "2024-01-10T09:00:00Z", "u"),
    ])
    assert check_rules(log, [Sla(name="s", from_activity="invoice", to_activity="pay",
                                 max_hours=2)]) == []


def test_the_same_resource_doing_both_activities_breaches_segregation_of_duties() -> None:
    log = log_from_rows([
        ("self", "request", "2024-01-01T08:00:00Z", "ann"),
        ("self", "approve", "2024-01-01T09:00:00Z", "ann"),
        ("fine", "request", "2024-01-01T08:00:00Z", "ann"),
        ("fine", "approve", "2024-01-01T09:00:00Z", "bob"),
    ])
    found = check_rules(log, [SegregationOfDuties(name="four eyes", first_activity="request",
                                                  second_activity="approve")])
    assert [(d.case_id, d.kind) for d in found] == [("self", "segregation_of_duties")]
    assert "ann" in found[0].detail


# --- four eyes, case duration, mandatory and forbidden activities, attribute conditions ---------


def test_the_new_breach_kinds_are_rule_kinds() -> None:
    assert {"missing_activity", "forbidden_activity", "rule_breach"} <= set(RULE_KINDS)


def test_four_eyes_is_segregation_of_duties_under_its_own_name() -> None:
    log = log_from_rows([
        ("own", "create PO", "2024-01-01T08:00:00Z", "ann"),
        ("own", "approve PO", "2024-01-01T09:00:00Z", "ann"),
        ("two", "create PO", "2024-01-01T08:00:00Z", "ann"),
        ("two", "approve PO", "2024-01-01T09:00:00Z", "bob"),
    ])
    rule = FourEyes(name="PO approval", first_activity="create PO", second_activity="approve PO")
    found = check_rules(log, [rule])
    assert isinstance(rule, SegregationOfDuties)
    assert [(d.case_id, d.kind, d.activity) for d in found] == [
        ("own", "segregation_of_duties", "PO approval")
    ]


def test_a_case_longer_than_its_limit_breaches_the_case_duration() -> None:
    log = log_from_rows([
        ("slow", "a", "2024-01-01T08:00:00Z", "u"), ("slow", "b", "2024-01-01T20:00:00Z", "u"),
        ("fast", "a", "2024-01-01T08:00:00Z", "u"), ("fast", "b", "2024-01-01T09:00:00Z", "u"),
    ])
    found = check_rules(log, [CaseDuration(name="same day", max_hours=8)])
    assert [(d.case_id, d.kind, d.activity) for d in found] == [("slow", "sla_breach", "same day")]
    assert found[0].detail == "case took 12.0 h, limit 8.0 h"


def test_case_duration_is_not_checkable_without_timestamps() -> None:
    log = log_from_rows([("c", "a", "2024-01-01T08:00:00Z", "u"), ("c", "b", "2024-02-01T08:00:00Z", "u")])
    log = dataclasses.replace(log, has_timestamps=False)
    assert check_rules(log, [CaseDuration(name="d", max_hours=1)]) == []


def test_a_finished_case_without_a_mandatory_activity_is_reported_and_a_running_one_is_not() -> None:
    log = log_from_rows([
        ("done", "order", "2024-01-01T08:00:00Z", "u"), ("done", "pay", "2024-01-02T08:00:00Z", "u"),
        ("skipped", "order", "2024-01-01T08:00:00Z", "u"),
        ("running", "order", "2024-01-01T08:00:00Z", "u"),
    ])
    found = check_rules(log, [MandatoryActivity(name="always pay", activity="pay")], open_cases={"running"})
    assert [(d.case_id, d.kind, d.activity) for d in found] == [("skipped", "missing_activity", "always pay")]


def test_a_forbidden_activity_is_reported_with_how_often_it_happened() -> None:
    log = log_from_rows([
        ("bad", "override", "2024-01-01T08:00:00Z", "u"), ("bad", "override", "2024-01-01T09:00:00Z", "u"),
        ("good", "order", "2024-01-01T08:00:00Z", "u"),
    ])
    found = check_rules(log, [ForbiddenActivity(name="no overrides", activity="override")])
    assert [(d.case_id, d.kind, d.activity, d.detail) for d in found] == [
        ("bad", "forbidden_activity", "no overrides", "override occurred 2 times")
    ]


def amounts(values: dict[str, tuple[str | None, str | None]]) -> EventLog:
    rows = [(case, "pay", "2024-01-01T08:00:00Z", "u") for case in values]
    return log_from_rows(rows, {
        "payment_amount": {c: p for c, (p, _) in values.items() if p is not None},
        "invoice_amount": {c: i for c, (_, i) in values.items() if i is not None},
    })


def test_two_attributes_that_differ_by_more_than_the_tolerance_breach_the_condition() -> None:
    log = amounts({"exact": ("100.00", "100"), "cent": ("99.99", "100"), "short": ("90", "100")})
    rule = parse_condition("paid in full", "payment_amount == invoice_amount", tolerance=0.01)
    found = check_rules(log, [rule])
    assert [(d.case_id, d.kind, d.activity) for d in found] == [("short", "rule_breach", "paid in full")]
    assert found[0].detail == ("expected payment_amount == invoice_amount (tolerance 0.01), "
                               "but payment_amount = 90, invoice_amount = 100")


def test_a_missing_value_makes_the_condition_not_applicable() -> None:
    log = amounts({"unpaid": (None, "100"), "blank": ("  ", "100")})
    assert check_rules(log, [parse_condition("full", "payment_amount == invoice_amount")]) == []


def test_an_attribute_is_compared_with_a_number() -> None:
    log = amounts({"big": ("20000", "1"), "small": ("50", "1")})
    found = check_rules(log, [parse_condition("limit", "payment_amount <= 10000")])
    assert [d.case_id for d in found] == ["big"]


def test_values_within_the_tolerance_count_as_equal_for_strict_comparisons() -> None:
    log = amounts({"near": ("99.995", "100"), "below": ("98", "100")})
    found = check_rules(log, [parse_condition("less", "payment_amount < invoice_amount", tolerance=0.01)])
    assert [d.case_id for d in found] == ["near"]


def test_text_is_compared_exactly_with_a_quoted_value() -> None:
    log = amounts({"eur": ("EUR", "1"), "usd": ("USD", "1")})
    found = check_rules(log, [parse_condition("currency", "payment_amount == 'EUR'")])
    assert [d.case_id for d in found] == ["usd"]


def test_text_where_an_ordering_needs_numbers_is_not_judged() -> None:
    log = amounts({"odd": ("n/a", "100")})
    assert check_rules(log, [parse_condition("x", "payment_amount > invoice_amount")]) == []


def test_a_condition_on_an_attribute_that_is_not_extracted_is_a_configuration_error() -> None:
    log = amounts({"c": ("1", "1")})
    with pytest.raises(ValueError, match="'vat' is not extracted"):
        check_rules(log, [parse_condition("vat", "vat >= 0")])


@pytest.mark.parametrize("expression, attribute, operator, other, value", [
    ("payment_amount == invoice_amount", "payment_amount", "==", "invoice_amount", None),
    ("amount>=-1.5", "amount", ">=", None, -1.5),
    ("currency != \"EUR\"", "currency", "!=", None, "EUR"),
])
def test_a_condition_is_parsed_from_text(
    expression: str, attribute: str, operator: str, other: str | None, value: float | str | None
) -> None:
    rule = parse_condition("r", expression)
    parsed = (rule.attribute, rule.operator, rule.other_attribute, rule.value)
    assert parsed == (attribute, operator, other, value)


@pytest.mark.parametrize("expression", ["amount ~ 3", "amount", "amount < 'text'", "amount == 3 apples"])
def test_a_condition_that_cannot_be_understood_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="rule r"):
        parse_condition("r", expression)


def test_a_condition_needs_exactly_one_right_hand_side() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        AttributeCondition(name="r", attribute="a", operator="==", other_attribute="b", value=1.0)
