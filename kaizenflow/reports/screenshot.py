"""A report page's screenshot from headless Chromium.

``python -m kaizenflow.reports.screenshot REPORT.html OUT.png``
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Where Debian and Ubuntu put Chromium; Playwright's own browser download is not always possible.
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")

#: Headless Chromium without the sandbox (it needs privileges containers lack) and without any
#: background traffic of its own, so the only request a page makes is the page itself.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

WIDTH = 1280
HEIGHT = 900


def chromium_path() -> Path | None:
    """The Chromium to drive: $KAIZEN_CHROMIUM, else the system's, else None for Playwright's own."""
    configured = os.environ.get("KAIZEN_CHROMIUM")
    if configured:
        return Path(configured)
    if SYSTEM_CHROMIUM.is_file():
        return SYSTEM_CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


def launch(playwright: Any) -> Any:
    """A headless Chromium browser from a running ``sync_playwright()``."""
    executable = chromium_path()
    return playwright.chromium.launch(
        executable_path=str(executable) if executable else None, args=list(CHROMIUM_ARGS)
    )


def screenshot(report: Path, out: Path, width: int = WIDTH, full_page: bool = True) -> Path:
    """Open ``report`` from file:// at ``width`` CSS pixels and save a PNG of it to ``out``.

    The page is shown as a reader first sees it: every pattern folded, the map on "all paths".
    """
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": width, "height": HEIGHT})
            page.goto(report.resolve().as_uri(), wait_until="load")
            page.screenshot(path=str(out), full_page=full_page)
        finally:
            browser.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kaizenflow.reports.screenshot",
        description="Save a PNG screenshot of a kaizenflow report."
    )
    parser.add_argument("report", type=Path, help="the report's HTML file")
    parser.add_argument("out", type=Path, help="where to write the PNG")
    parser.add_argument("--width", type=int, default=WIDTH, help=f"viewport width in CSS pixels ({WIDTH})")
    parser.add_argument(
        "--viewport-only", action="store_true", help="only the first screenful, not the whole page"
    )
    arguments = parser.parse_args(argv)
    if not arguments.report.is_file():
        parser.error(f"{arguments.report}: no such report")
    screenshot(arguments.report, arguments.out, arguments.width, full_page=not arguments.viewport_only)
    print(arguments.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
