"""The Prefect artifacts link to where a process owner can open the report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from report_fixtures import make_summary

from kaizenflow.flows.nightly import report_link


def test_with_the_web_app_configured_the_report_link_is_its_page(tmp_path: Path) -> None:
    summary = replace(make_summary(process="Purchase to Pay"),
                      report_path=str(tmp_path / "purchase-to-pay" / "20261203T020000Z-ab12cd.html"))
    assert report_link(summary, "https://kaizen.example.com/") == (
        "https://kaizen.example.com/reports/purchase-to-pay/20261203T020000Z-ab12cd.html")


def test_without_the_web_app_the_report_link_is_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p2p" / "run.html"
    summary = replace(make_summary(), report_path=str(path))
    assert report_link(summary, None) == path.resolve().as_uri()
    assert report_link(replace(summary, report_path=None), None) is None
