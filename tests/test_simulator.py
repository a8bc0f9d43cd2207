"""Tests of the purchase-to-pay simulator: model, data invariants, ground truth, append, databases."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from kaizenflow.conformance.types import DEVIATION_KINDS
from kaizenflow.sample_logs import (
    BPMN_PATH,
    SCENARIOS,
    DeviationRates,
    Rate,
    SimulationConfig,
    append_days,
    generate,
)
from kaizenflow.sample_logs.p2p import main
from kaizenflow.sample_logs.schema import METADATA, PENDING

REPO = Path(__file__).resolve().parents[1]
END = datetime(2026, 6, 30, 18, 0)
CREATE_PR, CREATE_PO, CHANGE_PO, APPROVE_PO = (
    "Create Purchase Requisition", "Create Purchase Order", "Change Purchase Order",
    "Approve Purchase Order",
)
RECEIVE_GOODS, RECEIVE_INVOICE, PAY_INVOICE = "Receive Goods", "Receive Invoice", "Pay Invoice"
ACTIVITIES = {
    CREATE_PR, CREATE_PO, CHANGE_PO, APPROVE_PO, RECEIVE_GOODS, RECEIVE_INVOICE, PAY_INVOICE,
}
PAYMENT_BEFORE_GR_ROWS = {("skipped", "Receive Goods"), ("wrong_order", "Pay Invoice")}
CONTROL_FLOW = (
    "skipped_approval", "invoice_before_po", "payment_before_goods_receipt", "duplicate_payment",
    "po_changed_after_approval",
)
EVENTS_SQL = f"""
SELECT pr_id AS case_id, '{CREATE_PR}' AS activity, created_at AS ts, created_by AS resource
  FROM purchase_requisitions
UNION ALL SELECT pr_id, '{CREATE_PO}', created_at, created_by FROM purchase_orders
UNION ALL SELECT o.pr_id, '{CHANGE_PO}', c.changed_at, c.changed_by
  FROM po_changes c JOIN purchase_orders o ON o.po_id = c.po_id
UNION ALL SELECT o.pr_id, '{APPROVE_PO}', a.approved_at, a.approved_by
  FROM po_approvals a JOIN purchase_orders o ON o.po_id = a.po_id
UNION ALL SELECT o.pr_id, '{RECEIVE_GOODS}', g.received_at, g.received_by
  FROM goods_receipts g JOIN purchase_orders o ON o.po_id = g.po_id
UNION ALL SELECT o.pr_id, '{RECEIVE_INVOICE}', i.received_at, i.entered_by
  FROM invoices i JOIN purchase_orders o ON o.po_id = i.po_id
UNION ALL SELECT o.pr_id, '{PAY_INVOICE}', p.paid_at, p.paid_by
  FROM payments p JOIN invoices i ON i.invoice_id = p.invoice_id
  JOIN purchase_orders o ON o.po_id = i.po_id
"""


@dataclass(frozen=True)
class Snapshot:
    """Everything a test reads from one simulated database, read once."""

    events: pd.DataFrame  # case_id, activity, ts, resource; ordered by case and time
    cases: pd.DataFrame  # indexed by case_id: plant_id, supplier_id, created_by, terms
    truth: pd.DataFrame
    completed: frozenset[str]  # cases with no event still pending

    def case_truth(self, scenario: str) -> set[str]:
        return set(self.truth.loc[self.truth.scenario == scenario, "case_id"])


def read_snapshot(url: str) -> Snapshot:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            events = pd.read_sql(sa.text(EVENTS_SQL), conn, parse_dates=["ts"])
            cases = pd.read_sql(sa.text(
                "SELECT r.pr_id AS case_id, r.plant_id, o.supplier_id, r.created_by,"
                " s.payment_terms_days AS terms FROM purchase_requisitions r"
                " LEFT JOIN purchase_orders o ON o.pr_id = r.pr_id"
                " LEFT JOIN suppliers s ON s.supplier_id = o.supplier_id"
            ), conn).set_index("case_id")
            truth = pd.read_sql(sa.text("SELECT * FROM ground_truth"), conn)
            pending: set[str] = set()
            for table in PENDING.values():
                key = next(c for c in table.columns if c.name in ("pr_id", "po_id", "invoice_id"))
                ids = conn.execute(sa.select(key)).scalars()
                pending.update("PR-" + value.split("-")[1] for value in ids)
    finally:
        engine.dispose()
    events = events.sort_values(["case_id", "ts", "activity"], kind="stable", ignore_index=True)
    return Snapshot(events, cases, truth, frozenset(set(cases.index) - pending))


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every simulator table, in a database-independent order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted(
                    (tuple(row) for row in conn.execute(sa.select(table))),
                    key=lambda row: tuple(str(value) for value in row),
                )
                for table in METADATA.sorted_tables
            }
    finally:
        engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def big_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """2,000 cases over a year: most are complete, the last weeks are still running."""
    url = sqlite_url(tmp_path_factory.mktemp("p2p") / "p2p.db")
    generate(url, SimulationConfig(cases=2000, days=365))
    return url


@pytest.fixture(scope="module")
def snap(big_url: str) -> Snapshot:
    return read_snapshot(big_url)


@pytest.fixture(scope="module")
def model() -> tuple[Any, Any, Any]:
    import pm4py

    net, initial, final = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(BPMN_PATH)))
    return net, initial, final


def align(events: pd.DataFrame, model: tuple[Any, Any, Any]) -> dict[str, list[tuple[str, str]]]:
    """Optimal alignment moves of each case, with moves on silent transitions left out."""
    import pm4py

    frame = pm4py.format_dataframe(
        events.copy(), case_id="case_id", activity_key="activity", timestamp_key="ts"
    )
    results = pm4py.conformance_diagnostics_alignments(frame, *model)
    case_ids = list(frame["case:concept:name"].unique())
    aligned: dict[str, list[tuple[str, str]]] = {}
    for case_id, result in zip(case_ids, results, strict=True):
        moves = [(log, mod) for log, mod in result["alignment"] if mod is not None]
        trace = list(events.loc[events.case_id == case_id, "activity"])
        assert [log for log, _ in moves if log != ">>"] == trace, "alignment matched wrong case"
        aligned[case_id] = moves
    return aligned


def completed_events(snap: Snapshot, cases: set[str]) -> pd.DataFrame:
    return snap.events[snap.events.case_id.isin(cases & snap.completed)]


# --- the BPMN model ---------------------------------------------------------------------------

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"


def test_bpmn_has_a_diagram_shape_or_edge_for_every_element() -> None:
    root = ET.parse(BPMN_PATH).getroot()
    process = root.find(f"{BPMN}process")
    assert process is not None
    elements = {e.get("id"): e.tag for e in process if e.get("id")}
    shapes = {s.get("bpmnElement"): s for s in root.iter(f"{BPMNDI}BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{BPMNDI}BPMNEdge")}
    for element_id, tag in elements.items():
        if tag == f"{BPMN}sequenceFlow":
            waypoints = edges[element_id].findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")
            assert len(waypoints) >= 2, element_id
        else:
            assert shapes[element_id].find("{http://www.omg.org/spec/DD/20100524/DC}Bounds") is not None


def test_bpmn_names_exactly_the_designed_tasks_and_gateway_pairs() -> None:
    process = ET.parse(BPMN_PATH).getroot().find(f"{BPMN}process")
    assert process is not None
    tasks = {task.get("name") for task in process.iter(f"{BPMN}task")}
    assert tasks == ACTIVITIES
    assert len(process.findall(f"{BPMN}exclusiveGateway")) == 2
    assert len(process.findall(f"{BPMN}parallelGateway")) == 2


def test_bpmn_converts_to_a_petri_net_with_the_designed_activities(
    model: tuple[Any, Any, Any],
) -> None:
    net = model[0]
    assert {t.label for t in net.transitions if t.label is not None} == ACTIVITIES


def test_completed_cases_without_control_flow_deviation_fit_the_model(
    snap: Snapshot, model: tuple[Any, Any, Any]
) -> None:
    deviating = set().union(*(snap.case_truth(s) for s in CONTROL_FLOW))
    nominal = completed_events(snap, set(snap.cases.index) - deviating)
    assert nominal.case_id.nunique() > 1000
    moves = align(nominal, model)
    assert all(log == mod for case_moves in moves.values() for log, mod in case_moves)


EXPECTED_MOVES = {
    "skipped_approval": [{(">>", APPROVE_PO)}],
    "invoice_before_po": [{(RECEIVE_INVOICE, ">>"), (">>", RECEIVE_INVOICE)}],
    "payment_before_goods_receipt": [
        {(PAY_INVOICE, ">>"), (">>", PAY_INVOICE)},
        {(RECEIVE_GOODS, ">>"), (">>", RECEIVE_GOODS)},
    ],
    "duplicate_payment": [{(PAY_INVOICE, ">>")}],
    "po_changed_after_approval": [{(APPROVE_PO, ">>")}],
}


@pytest.mark.parametrize("scenario", CONTROL_FLOW)
def test_control_flow_scenario_produces_its_misalignment(
    snap: Snapshot, model: tuple[Any, Any, Any], scenario: str
) -> None:
    events = completed_events(snap, snap.case_truth(scenario))
    assert events.case_id.nunique() >= 10
    for case_id, case_moves in align(events, model).items():
        deviations = {move for move in case_moves if move[0] != move[1]}
        assert any(expected <= deviations for expected in EXPECTED_MOVES[scenario]), case_id


# --- data invariants --------------------------------------------------------------------------


def test_events_fall_in_working_hours_and_not_after_the_snapshot(snap: Snapshot) -> None:
    ts = snap.events.ts
    assert (ts.dt.day_of_week < 5).all()
    assert ((ts.dt.hour >= 8) & (ts.dt.hour < 17)).all()
    assert ts.max() <= END


def test_every_case_is_one_requisition_started_in_the_window(snap: Snapshot) -> None:
    starts = snap.events[snap.events.activity == CREATE_PR]
    assert starts.case_id.is_unique and len(starts) == 2000
    assert starts.ts.min() >= END - timedelta(days=365)


def test_throughput_differs_by_supplier(snap: Snapshot) -> None:
    events = completed_events(snap, set(snap.cases.index))
    span = events.groupby("case_id").ts.agg(lambda ts: ts.max() - ts.min()).dt.days
    median = span.groupby(snap.cases.supplier_id).median()
    assert median.max() - median.min() >= 7


def payments_against_terms(snap: Snapshot) -> pd.DataFrame:
    """Each payment with the case's first invoice and the allowed latest payment day."""
    events = completed_events(snap, set(snap.cases.index))
    invoices = events[events.activity == RECEIVE_INVOICE].groupby("case_id").ts.min()
    payments = events[events.activity == PAY_INVOICE].set_index("case_id").ts
    frame = payments.to_frame("paid").join(invoices.rename("invoiced")).join(snap.cases.terms)
    frame["due"] = frame.invoiced + pd.to_timedelta(frame.terms, unit="D")
    return frame


def test_payments_without_injected_breach_are_made_a_day_before_terms(snap: Snapshot) -> None:
    frame = payments_against_terms(snap)
    nominal = frame[~frame.index.isin(snap.case_truth("late_payment"))]
    assert len(nominal) > 1000
    assert (nominal.paid <= nominal.due - timedelta(days=1)).all()


def test_late_payments_breach_terms_by_at_least_two_days(snap: Snapshot) -> None:
    frame = payments_against_terms(snap)
    late = frame[frame.index.isin(snap.case_truth("late_payment"))]
    assert len(late) >= 10
    assert (late.paid >= late.due + timedelta(days=2)).all()


def approvals_with_requester(snap: Snapshot) -> pd.DataFrame:
    approvals = snap.events[snap.events.activity == APPROVE_PO]
    return approvals.join(snap.cases.created_by, on="case_id")


def test_approver_differs_from_requester_without_self_approval(snap: Snapshot) -> None:
    approvals = approvals_with_requester(snap)
    nominal = approvals[~approvals.case_id.isin(snap.case_truth("self_approval"))]
    assert len(nominal) > 1000
    assert (nominal.resource != nominal.created_by).all()


def test_self_approved_cases_are_approved_by_their_requester(snap: Snapshot) -> None:
    approvals = approvals_with_requester(snap)
    selfish = approvals[approvals.case_id.isin(snap.case_truth("self_approval"))]
    assert len(selfish) >= 10
    assert (selfish.resource == selfish.created_by).all()


# --- ground truth -----------------------------------------------------------------------------


def observed(snap: Snapshot, case_ids: set[str]) -> set[tuple[str, str, str]]:
    """Deviations a reader of the visible data can prove, as (case, kind, activity)."""
    found: set[tuple[str, str, str]] = set()
    events = snap.events[snap.events.case_id.isin(case_ids)]
    for case_id, case in events.groupby("case_id"):
        first = case.groupby("activity").ts.min()
        count = case.activity.value_counts()
        after_approval = case[case.activity.isin([RECEIVE_GOODS, RECEIVE_INVOICE])]
        if APPROVE_PO not in count and CREATE_PO in count and len(after_approval):
            found.add((str(case_id), "skipped", APPROVE_PO))
        changes = case.loc[case.activity == CHANGE_PO, "ts"]
        approved = case.loc[case.activity == APPROVE_PO, "ts"]
        if len(approved) == 1 and (changes > approved.iloc[0]).any():
            found.add((str(case_id), "inserted", CHANGE_PO))
        if CREATE_PO in first and first.get(RECEIVE_INVOICE, pd.Timestamp.max) < first[CREATE_PO]:
            found.add((str(case_id), "wrong_order", RECEIVE_INVOICE))
        if PAY_INVOICE in first and RECEIVE_GOODS not in first:
            found.add((str(case_id), "skipped", RECEIVE_GOODS))
        if first.get(PAY_INVOICE, pd.Timestamp.max) < first.get(RECEIVE_GOODS, pd.Timestamp.min):
            found.add((str(case_id), "wrong_order", PAY_INVOICE))
        if count.get(PAY_INVOICE, 0) > 1:
            found.add((str(case_id), "repeated", PAY_INVOICE))
        if count.get(APPROVE_PO, 0) > 1:
            found.add((str(case_id), "repeated", APPROVE_PO))
        approvers = set(case.loc[case.activity == APPROVE_PO, "resource"])
        if snap.cases.created_by[case_id] in approvers:
            found.add((str(case_id), "segregation_of_duties", APPROVE_PO))
        terms = snap.cases.terms.get(case_id)
        if PAY_INVOICE in first and RECEIVE_INVOICE in first and pd.notna(terms):
            if first[PAY_INVOICE] > first[RECEIVE_INVOICE] + timedelta(days=float(terms)):
                found.add((str(case_id), "sla_breach", PAY_INVOICE))
    return found


def truth_rows(snap: Snapshot, case_ids: set[str]) -> set[tuple[str, str, str]]:
    rows = snap.truth[snap.truth.case_id.isin(case_ids)]
    return set(zip(rows.case_id, rows.kind, rows.activity, strict=True))


def test_ground_truth_uses_the_conformance_vocabulary(snap: Snapshot) -> None:
    assert set(snap.truth.kind) <= set(DEVIATION_KINDS)
    assert set(snap.truth.scenario) == set(SCENARIOS)
    assert set(snap.truth.activity) <= ACTIVITIES


def test_ground_truth_of_completed_cases_is_exactly_what_the_data_shows(snap: Snapshot) -> None:
    assert truth_rows(snap, set(snap.completed)) == observed(snap, set(snap.completed))


def test_ground_truth_of_running_cases_is_already_visible_in_the_data(snap: Snapshot) -> None:
    running = set(snap.cases.index) - snap.completed
    truth = truth_rows(snap, running)
    assert len(running) > 50 and truth
    assert truth <= observed(snap, running)


def expected_probability(snap: Snapshot, cases: pd.DataFrame, scenario: str) -> pd.Series:
    rates = DeviationRates()

    def p(name: str) -> pd.Series:
        values = rates.rate(name).per_case(cases.plant_id.to_numpy(), cases.supplier_id.to_numpy())
        return pd.Series(values, index=cases.index)

    if scenario in CONTROL_FLOW:
        return p(scenario)
    excluded = "skipped_approval" if scenario == "self_approval" else "duplicate_payment"
    return p(scenario) * (1 - p(excluded))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_rate_matches_its_configuration(snap: Snapshot, scenario: str) -> None:
    cases = snap.cases.loc[sorted(snap.completed)]
    probability = expected_probability(snap, cases, scenario)
    expected = probability.sum()
    tolerance = 4 * (probability * (1 - probability)).sum() ** 0.5 + 2
    actual = len(snap.case_truth(scenario) & snap.completed)
    assert abs(actual - expected) <= tolerance, (actual, expected)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_concentrates_on_its_hot_object(snap: Snapshot, scenario: str) -> None:
    rate = DeviationRates().rate(scenario)
    assert rate.hot_object is not None
    cases = snap.cases.loc[sorted(snap.completed)]
    owner = cases.plant_id if rate.hot_object.startswith("P-") else cases.supplier_id
    hit = cases.index.isin(list(snap.case_truth(scenario)))
    hot, cold = hit[owner == rate.hot_object].mean(), hit[owner != rate.hot_object].mean()
    assert hot > 3 * cold


# --- determinism, refusal, CLI ----------------------------------------------------------------


def test_same_seed_and_config_write_identical_rows(tmp_path: Path) -> None:
    config = SimulationConfig(cases=500, seed=11)
    generate(sqlite_url(tmp_path / "a.db"), config)
    generate(sqlite_url(tmp_path / "b.db"), config)
    assert dump(sqlite_url(tmp_path / "a.db")) == dump(sqlite_url(tmp_path / "b.db"))


def test_another_seed_writes_other_cases(tmp_path: Path) -> None:
    generate(sqlite_url(tmp_path / "a.db"), SimulationConfig(cases=500, seed=1))
    generate(sqlite_url(tmp_path / "b.db"), SimulationConfig(cases=500, seed=2))
    a, b = dump(sqlite_url(tmp_path / "a.db")), dump(sqlite_url(tmp_path / "b.db"))
    assert a["purchase_orders"] != b["purchase_orders"]


def test_generate_refuses_a_database_that_holds_data(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "p2p.db")
    generate(url, SimulationConfig(cases=500))
    with pytest.raises(ValueError, match="already holds data"):
        generate(url, SimulationConfig(cases=500))


def test_append_refuses_a_database_without_simulation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="generate first"):
        append_days(sqlite_url(tmp_path / "empty.db"), 7)


def test_rates_outside_zero_to_one_are_rejected() -> None:
    with pytest.raises(ValueError, match="probabilities"):
        Rate(1.5)


def test_stats_count_the_rows_written(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "p2p.db")
    stats = generate(url, SimulationConfig(cases=500))
    rows = dump(url)
    assert stats.cases == 500
    assert stats.events == {name: len(rows[name]) for name in stats.events}
    assert stats.ground_truth_rows == len(rows["ground_truth"])
    assert stats.pending_events == sum(len(rows[t.name]) for t in PENDING.values())


def test_cli_generates_then_appends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = sqlite_url(tmp_path / "cli.db")
    assert main(["--url", url, "--cases", "500", "--seed", "3"]) == 0
    assert main(["--url", url, "--append-days", "7", "--disable", "late_payment"]) == 0
    output = capsys.readouterr().out
    assert "snapshot 2026-06-30 18:00" in output and "snapshot 2026-07-07 18:00" in output


def test_module_runs_as_a_script_without_warnings(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "script.db")
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "kaizenflow.sample_logs.p2p", "--url", url, "--cases", "500"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert "500 new cases" in done.stdout


# --- append_days ------------------------------------------------------------------------------


@pytest.fixture
def appended(tmp_path: Path) -> tuple[str, dict[str, list[tuple[Any, ...]]], Any]:
    """A 500-case database before (rows returned) and after (at the URL) a 7-day append."""
    url = sqlite_url(tmp_path / "p2p.db")
    generate(url, SimulationConfig(cases=500, days=60))
    before = dump(url)
    stats = append_days(url, 7)
    return url, before, stats


TIME_COLUMNS = {
    t.name: next(i for i, c in enumerate(t.columns) if isinstance(c.type, sa.DateTime))
    for t in METADATA.sorted_tables
    if t.name in ("purchase_requisitions", "purchase_orders", "po_changes", "po_approvals",
                  "goods_receipts", "invoices", "payments")
}


def test_append_adds_only_events_between_old_and_new_snapshot(
    appended: tuple[str, dict[str, list[tuple[Any, ...]]], Any],
) -> None:
    url, before, stats = appended
    after = dump(url)
    for name, column in TIME_COLUMNS.items():
        added = set(after[name]) - set(before[name])
        assert added, name
        assert all(END < row[column] <= END + timedelta(days=7) for row in added), name
    assert stats.now == END + timedelta(days=7)


def test_append_keeps_old_rows_and_never_duplicates(
    appended: tuple[str, dict[str, list[tuple[Any, ...]]], Any],
) -> None:
    url, before, _ = appended
    after = dump(url)
    for name in TIME_COLUMNS:
        keys = [row[0] for row in after[name]]
        assert len(keys) == len(set(keys)), name
        assert set(before[name]) <= set(after[name]), name


def test_append_starts_cases_at_the_original_daily_rate(
    appended: tuple[str, dict[str, list[tuple[Any, ...]]], Any],
) -> None:
    _, _, stats = appended
    expected = 500 * 7 / 60
    assert abs(stats.cases - expected) <= 0.15 * expected


def test_append_keeps_ground_truth_consistent_with_the_data(
    appended: tuple[str, dict[str, list[tuple[Any, ...]]], Any],
) -> None:
    snap = read_snapshot(appended[0])
    assert truth_rows(snap, set(snap.cases.index)) <= observed(snap, set(snap.cases.index))
    assert truth_rows(snap, set(snap.completed)) == observed(snap, set(snap.completed))


def test_append_with_a_scenario_switched_off_injects_it_no_more(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "p2p.db")
    generate(url, SimulationConfig(cases=1000, days=60))
    append_days(url, 60, rates=DeviationRates().without("po_changed_after_approval"))
    snap = read_snapshot(url)
    starts = snap.events[snap.events.activity == CREATE_PR].set_index("case_id").ts
    repeated = starts[list(snap.case_truth("po_changed_after_approval"))]
    assert (repeated <= END).sum() >= 10
    assert (repeated > END).sum() == 0


def test_append_turns_a_skipped_goods_receipt_into_a_wrong_order_once_it_arrives(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "p2p.db")
    only = replace(DeviationRates.none(), payment_before_goods_receipt=Rate(1.0))
    generate(url, SimulationConfig(cases=500, days=60, rates=only))
    stats = append_days(url, 7)
    snap = read_snapshot(url)
    everyone = set(snap.cases.index)
    shown = {row for row in observed(snap, everyone) if row[1:] in PAYMENT_BEFORE_GR_ROWS}
    assert stats.ground_truth_removed > 0
    assert truth_rows(snap, everyone) == shown


# --- other databases --------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_server_database_holds_the_same_rows_as_sqlite(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url: str = request.getfixturevalue(server)
    config = SimulationConfig(cases=500, days=60)
    local = sqlite_url(tmp_path / "p2p.db")
    for target in (url, local):
        generate(target, config)
        append_days(target, 7)
    assert dump(url) == dump(local)
