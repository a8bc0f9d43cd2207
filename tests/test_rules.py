"""Rules beside the model: service levels and segregation of duties."""

from eventlogs import log_from_rows

from conformance.rules import SegregationOfDuties, Sla, check_rules


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
