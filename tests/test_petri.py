"""Our PNML reader reads nets as pm4py does, and checking a seen log never imports pm4py."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from kaizenflow.conformance.errors import ModelError
from kaizenflow.conformance.models import load_model
from kaizenflow.conformance.petri import to_pm4py

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "models"


def _shape(net: object, initial: object, final: object) -> tuple[object, ...]:
    """Everything checking depends on, by names: labels, arcs with weights, both markings."""
    labels = sorted((str(t.name), str(t.label)) for t in net.transitions)  # type: ignore[attr-defined]
    arcs = sorted((str(a.source.name), str(a.target.name), a.weight) for a in net.arcs)  # type: ignore[attr-defined]
    marks = [sorted((str(p.name), n) for p, n in m.items()) for m in (initial, final)]  # type: ignore[attr-defined]
    return labels, arcs, marks


@pytest.mark.parametrize("name", ["a22.pnml", "running-example.pnml"])
def test_our_pnml_reader_reads_the_net_pm4py_reads(shared_data: Path, name: str) -> None:
    import pm4py

    ours = load_model(shared_data / "models" / name)
    theirs = pm4py.read_pnml(str(shared_data / "models" / name))
    assert _shape(ours.net, ours.initial_marking, ours.final_marking) == _shape(*theirs)


def test_a_net_converted_to_pm4py_keeps_its_shape(shared_data: Path) -> None:
    model = load_model(shared_data / "models" / "a22.pnml")
    assert _shape(*model.pm4py_net()) == _shape(model.net, model.initial_marking, model.final_marking)
    net, initial, final = model.pm4py_net()
    assert to_pm4py(net, initial, final)[0] is net  # a pm4py net is used as it is


def test_a_pnml_arc_between_two_places_is_refused_with_its_id(tmp_path: Path) -> None:
    path = tmp_path / "bad.pnml"
    path.write_text(textwrap.dedent("""\
        <pnml><net id="n"><page id="p">
          <place id="start"><initialMarking><text>1</text></initialMarking></place>
          <place id="end"/>
          <arc id="a1" source="start" target="end"/>
        </page></net></pnml>"""), encoding="utf-8")
    with pytest.raises(ModelError, match="arc 'a1' does not join a place and a transition"):
        load_model(path)


def test_a_pnml_weight_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    path = tmp_path / "weights.pnml"
    path.write_text(textwrap.dedent("""\
        <pnml><net id="n"><page id="p">
          <place id="start"><initialMarking><text>1</text></initialMarking></place>
          <transition id="t"><name><text>Approve</text></name></transition>
          <arc id="a1" source="start" target="t"><inscription><text>two</text></inscription></arc>
        </page></net></pnml>"""), encoding="utf-8")
    with pytest.raises(ModelError, match="weight of arc 'a1' is not a whole number: 'two'"):
        load_model(path)


def test_checking_a_log_whose_variants_are_cached_does_not_import_pm4py(tmp_path: Path) -> None:
    """A night of seen variants should not pay the seconds pm4py's import costs."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import pandas as pd
        from kaizenflow.conformance.alignments import cached_aligner
        from kaizenflow.conformance.check import check_log
        from kaizenflow.conformance.models import load_model
        from kaizenflow.storage.alignment_cache import AlignmentCacheFile
        from kaizenflow.core.events import EventLog

        events = pd.DataFrame({{
            "event_id": ["1", "2", "3", "4"], "case_id": ["c1", "c1", "c2", "c2"],
            "activity": ["Submit", "Approve", "Submit", "Pay"], "resource": [None] * 4,
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"], utc=True),
        }})
        log = EventLog(events=events, case_attributes=pd.DataFrame(index=["c1", "c2"]))
        model = load_model(Path({str(MODELS / "no_final_marking.pnml")!r}))
        result = check_log(log, model, open_case_horizon_days=1e-9,
                           aligner=cached_aligner(AlignmentCacheFile(Path({str(tmp_path / "cache.db")!r}))))
        print(result.cases, "pm4py" in sys.modules)
    """)
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
        .stdout.split()
        for _ in range(2)
    ]
    assert runs == [["2", "False"], ["2", "False"]]


def test_the_bpmn_reader_builds_plain_nets_with_the_designed_activities() -> None:
    model = load_model(ROOT / "kaizenflow" / "sample_logs" / "purchase_to_pay.bpmn")
    assert "pm4py" not in type(model.net).__module__
    assert Counter(t.label for t in model.net.transitions if t.label)["Create Purchase Order"] == 1
