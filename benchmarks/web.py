"""The web app under load: `python -m benchmarks.web` (writes its section into docs/benchmarks.md).

The state database of a long history is built through the state store's own write path
(``StateStore.record_run``): 14 runs of a 10,000,000-event purchase-to-pay history (1,666,666
cases, and 520,000 per-case deviation rows a run: ten times the 52,000 a 1,000,000-event night
stores, storage/state.py), 60 tasks with their KPI history. The app is served by uvicorn (two worker
processes, one a core) on 127.0.0.1; 50 sessions, each signed in as its own owner, ask for the
task board and the process page in turn. Two loads, each bounded in requests and time:

* sessions as people use them: a pause of 0.5 to 1.5 s (seeded) between pages;
* a closed loop: each session asks again as soon as it has its answer (a stress test, 50 requests
  always in flight).

The process page reads each run's cases per pattern from the patterns file the night exports beside
its report (written here as the report writes it); the first page of a process is measured apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from benchmarks.measure import replace_section

TITLE = "The web app under load (the state of a 10,000,000-event history)"
PROCESS = "purchase-to-pay"

PATTERNS = [  # (kind, activity, share of a run's deviation rows), as the demo's night finds them
    ("skipped", "Approve Purchase Order", 0.22), ("repeated", "Approve Purchase Order", 0.20),
    ("segregation_of_duties", "Requester does not approve the own order", 0.13),
    ("sla_breach", "Pay within the supplier's payment terms", 0.10), ("wrong_order", "Pay Invoice", 0.08),
    ("wrong_order", "Receive Invoice", 0.07), ("repeated", "Pay Invoice", 0.06),
    ("repeated", "Change Purchase Order", 0.06), ("skipped", "Receive Goods", 0.04),
    ("inserted", "Change Purchase Order", 0.04),
]


@dataclass(frozen=True)
class Latencies:
    page: str
    seconds: list[float]

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.seconds, q)) if self.seconds else float("nan")


def build_state(directory: Path, runs: int, cases: int, events: int, deviations_per_run: int,
                tasks: int, sessions: int) -> Path:
    """A configuration whose state database holds the history; returns the configuration path."""
    from kaizenflow.conformance.types import DeviationPattern
    from kaizenflow.improvement.measurement import Measurement
    from kaizenflow.improvement.types import TaskProposal
    from kaizenflow.reports.archive import write_bytes_atomically
    from kaizenflow.reports.exports import PATTERNS_SCHEMA, export_folder, parquet_bytes, pattern_rows
    from kaizenflow.storage.accounts import OWNER, AccountStore
    from kaizenflow.storage.state import StateStore

    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    model = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.bpmn"
    config = directory / "kaizen.yaml"
    config.write_text(
        f"processes:\n  - name: {PROCESS}\n    model: {model}\n"
        "    sources: [{name: erp, file: events.csv, case_id: case, activity: activity, timestamp: at}]\n"
        "    tasks: {owners: {default: owner-0@example.com}}\n"
        "reports_directory: reports\n", encoding="utf-8")
    store = StateStore(f"sqlite:///{directory / 'state' / 'kaizen.db'}")
    generator = np.random.default_rng(7)
    owners = [f"owner-{i}@example.com" for i in range(sessions)]
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    for night in range(runs):
        rows = []
        for kind, activity, share in PATTERNS:
            count = int(deviations_per_run * share)
            ids = generator.choice(cases, size=count, replace=False)
            rows.append(pd.DataFrame({"case_id": [f"PR-{i:07d}" for i in ids], "kind": kind,
                                      "activity": activity, "detail": ""}))
        table = pd.concat(rows, ignore_index=True)
        proposals = [
            TaskProposal(
                fingerprint=f"task-{t}", process=PROCESS, pattern_key=f"{kind}:{activity}",
                title=f"Reduce {kind} '{activity}' for plant P-{t:02d}", business_object=f"plant=P-{t:02d}",
                owner=owners[t % len(owners)], kpi_name="share of cases", kpi_value=0.2 + 0.001 * night,
                target_value=0.1, cases=300, cases_in_scope=1500,
                evidence={"cases": 300, "root_causes": [], "example_case_ids": ["PR-0000001"]},
            )
            for t, (kind, activity, _) in ((t, PATTERNS[t % len(PATTERNS)]) for t in range(tasks))
        ] if night == 0 else []
        measurements = {
            task_id: Measurement(affected=300 - 3 * night, in_scope=1500)
            for task_id in range(1, tasks + 1)
        } if night else {}
        finished = start + timedelta(days=night)
        conforming = int(cases * (0.70 + 0.005 * night))
        run_id = f"{finished:%Y%m%dT%H%M%SZ}-{night:06x}"
        # what the night's report exports beside the report: the process page reads its counts
        found = table.groupby(["kind", "activity"])["case_id"].nunique()
        shown = [DeviationPattern(str(kind), str(activity), int(n), n / cases, None, None)
                 for (kind, activity), n in zip(found.index, found, strict=True)]
        write_bytes_atomically(export_folder(directory / "reports", PROCESS, run_id) / "patterns.parquet",
                               parquet_bytes(pattern_rows(shown), PATTERNS_SCHEMA))
        store.record_run(
            run_id, PROCESS, finished - timedelta(minutes=3), finished,
            {"cases": cases, "events": events, "fitness": 0.96, "conforming_cases": conforming,
             "conforming_share": conforming / cases, "incomplete_cases": 5000, "unchecked_cases": 0,
             "throughput_median_hours": 260.0, "throughput_p90_hours": 700.0, "patterns": len(PATTERNS)},
            table, proposals, measurements, deviation_runs_kept=runs,
        )
    accounts = AccountStore(store.engine)
    for owner in owners:
        accounts.add_user(owner, OWNER, None)
    store.dispose()
    return config


def session_cookies(config: Path, sessions: int) -> list[str]:
    """A signed session cookie for each owner (signing in is not what is measured)."""
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.storage.accounts import AccountStore
    from kaizenflow.storage.state import StateStore
    from kaizenflow.web.security import CookieSigner, installation_secret

    loaded = load_config(config)
    store = StateStore(loaded.state_url)
    accounts = AccountStore(store.engine)
    signer = CookieSigner(installation_secret(loaded.state_directory))
    cookies = []
    for i in range(sessions):
        token, _ = accounts.start_session(accounts.user(f"owner-{i}@example.com"), timedelta(hours=2))
        cookies.append(signer.session_cookie(token))
    store.dispose()
    return cookies


async def _load(url: str, cookies: list[str], requests_per_session: int, pause: tuple[float, float],
                deadline_seconds: float) -> tuple[dict[str, Latencies], int, float]:
    pages = {"task board": "/tasks", "process page": f"/processes/{PROCESS}"}
    found: dict[str, list[float]] = {name: [] for name in pages}
    failures = 0
    started = time.monotonic()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def session(index: int, cookie: str) -> None:
        nonlocal failures
        chooser = random.Random(index)
        async with httpx.AsyncClient(base_url=url, cookies={"kaizen_session": cookie}, timeout=60,
                                     limits=limits) as client:
            await asyncio.sleep(chooser.uniform(0, pause[1]))  # sessions do not start in step
            for n in range(requests_per_session):
                if time.monotonic() - started > deadline_seconds:
                    return
                name = list(pages)[(n + index) % 2]
                asked = time.perf_counter()
                answer = await client.get(pages[name])
                found[name].append(time.perf_counter() - asked)
                if answer.status_code != 200:
                    failures += 1
                if pause[1]:
                    await asyncio.sleep(chooser.uniform(*pause))

    await asyncio.gather(*(session(i, c) for i, c in enumerate(cookies)))
    return ({name: Latencies(name, seconds) for name, seconds in found.items()}, failures,
            time.monotonic() - started)


def _group_cpu_seconds(leader: int) -> float:
    """CPU seconds (user and system) of the processes of a session: the server and its workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[3]) == leader:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _serve(config: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "kaizenflow.web.serve:application", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
         "--workers", str(workers)],
        env={**os.environ, "KAIZEN_WEB_CONFIG": str(config)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )


def run(scratch: Path, runs: int = 14, cases: int = 1_666_666, events: int = 10_315_750,
        deviations_per_run: int = 520_000, sessions: int = 50, requests_per_session: int = 40,
        workers: int = 2, reuse: bool = False) -> list[str]:
    from kaizenflow.cli.serve import stop_process_group

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from web_support import free_port

    built = time.monotonic()
    config = scratch / "web" / "kaizen.yaml"
    if not (reuse and config.exists()):
        config = build_state(scratch / "web", runs, cases, events, deviations_per_run, tasks=60,
                             sessions=sessions)
    build_seconds = time.monotonic() - built
    cookies = session_cookies(config, sessions)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(config, port, workers)
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with httpx.Client(base_url=url, cookies={"kaizen_session": cookies[0]}, timeout=120) as client:
            asked = time.perf_counter()
            assert client.get(f"/processes/{PROCESS}").status_code == 200
            first_process_page = time.perf_counter() - asked
        load_before = os.getloadavg()[0]
        cpu: list[tuple[float, float]] = []  # (server, load generator) CPU seconds of each load
        server_cpu, own_cpu = _group_cpu_seconds(server.pid), time.process_time()
        people, people_failures, people_seconds = asyncio.run(
            _load(url, cookies, requests_per_session, (0.5, 1.5), 300))
        cpu.append((_group_cpu_seconds(server.pid) - server_cpu, time.process_time() - own_cpu))
        server_cpu, own_cpu = _group_cpu_seconds(server.pid), time.process_time()
        stress, stress_failures, stress_seconds = asyncio.run(
            _load(url, cookies, requests_per_session // 4, (0.0, 0.0), 300))
        cpu.append((_group_cpu_seconds(server.pid) - server_cpu, time.process_time() - own_cpu))
        load_after = os.getloadavg()[0]
    finally:
        stop_process_group(server, grace_seconds=10)
    deviation_rows = sum(int(deviations_per_run * share) for *_, share in PATTERNS) * runs
    lines = [
        f"`python -m benchmarks.web`: the state database (SQLite) of {runs} runs of a "
        f"{events:,}-event history ({cases:,} cases; {deviation_rows:,} per-case deviation rows kept, "
        "60 tasks with their KPI history; built through `StateStore.record_run`"
        + (f" in {build_seconds:.0f} s), " if build_seconds > 5 else "), ")
        +
        f"served by uvicorn (`kaizen web --workers {workers}`: one process a core) on 127.0.0.1, "
        f"{sessions} sessions each signed in as its own "
        "owner asking for the task board and the "
        "process page in turn; each run's cases per pattern are read from the patterns file the night "
        f"exports beside its report. The first process page: {first_process_page * 1000:,.0f} ms. "
        f"The machine's load average (1 min) was {load_before:.1f} before the loads and {load_after:.1f} "
        "after them: other work shares its two cores.",
        "",
        "| load | page | requests | p50 | p95 | max | failed |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for label, measured, failures in (
        (f"{sessions} sessions, 0.5–1.5 s between pages ({people_seconds:.0f} s)", people, people_failures),
        (f"{sessions} sessions, closed loop ({stress_seconds:.0f} s)", stress, stress_failures),
    ):
        for name, latencies in measured.items():
            lines.append(
                f"| {label} | {name} | {len(latencies.seconds):,} "
                f"| {latencies.percentile(50) * 1000:,.0f} ms "
                f"| {latencies.percentile(95) * 1000:,.0f} ms | {max(latencies.seconds) * 1000:,.0f} ms "
                f"| {failures} |")
    (people_server, people_client), (stress_server, stress_client) = cpu
    people_count = sum(len(latencies.seconds) for latencies in people.values())
    stress_count = sum(len(latencies.seconds) for latencies in stress.values())
    lines += [
        "",
        f"CPU time a request (less swayed than the latencies by other work on the machine): the {workers} "
        f"workers "
        f"{people_server / people_count * 1000:.1f} ms with people-paced sessions and "
        f"{stress_server / stress_count * 1000:.1f} ms in the closed loop; the load generator, "
        f"on the same two cores, {people_client / people_count * 1000:.1f} and "
        f"{stress_client / stress_count * 1000:.1f} ms.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/kaizen-bench"))
    parser.add_argument("--deviations-per-run", type=int, default=520_000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    parser.add_argument("--reuse", action="store_true", help="load the state an earlier run built")
    arguments = parser.parse_args()
    lines = run(arguments.scratch, deviations_per_run=arguments.deviations_per_run,
                sessions=arguments.sessions, workers=arguments.workers, reuse=arguments.reuse)
    print("\n".join(lines))
    if not arguments.no_write:
        replace_section(TITLE, lines)


if __name__ == "__main__":
    main()
