"""``cardflow demo`` as a user runs it: a short console with no traceback or library log lines, and
no process left behind (embedded PostgreSQL, Prefect's temporary server), also after Ctrl-C.

The demo runs in a subprocess with its own data dir and PREFECT_HOME and no PREFECT_API_URL, so it
starts the embedded event store and Prefect's temporary API itself, as on a fresh laptop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POSTGRES_", "CARDFLOW_"))}
    env.update(
        CARDFLOW_DATA_DIR=str(tmp_path / "data"),
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PYTHONPATH=str(REPO),
        COLUMNS="200",  # paths under pytest's tmp dir would wrap at 100 and count twice
    )
    return env


def _survivors(tmp_path: Path, children: set[int]) -> list[str]:
    """Processes of the run still alive: its children, or any process whose command line names its
    data dir or Prefect home (the postmaster is re-parented when pg_ctl exits)."""
    alive = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            ours = proc.info["pid"] in children or str(tmp_path) in cmdline
            if ours and proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.info['pid']}: {cmdline[:120]}")
        except psutil.Error:
            continue
    return alive


def _descendants(pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def _wait_gone(tmp_path: Path, children: set[int], timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while (alive := _survivors(tmp_path, children)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return alive


def _embedded_postmaster(tmp_path: Path) -> set[int]:
    pid_file = tmp_path / "data" / "pgdata" / "postmaster.pid"
    return {int(pid_file.read_text().split()[0])} if pid_file.exists() else set()


def _start_demo(tmp_path: Path) -> subprocess.Popen[str]:
    """``cardflow demo`` at 3,000 events in ``tmp_path``, console (stdout and stderr) on a pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "cardflow", "demo", "--events", "3000"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _console_lines(proc: subprocess.Popen[str], tmp_path: Path, children: set[int]) -> Iterator[str]:
    """The demo's console lines as they come; ``children`` collects every process it has started."""
    assert proc.stdout is not None
    for line in proc.stdout:
        children |= _descendants(proc.pid) | _embedded_postmaster(tmp_path)
        yield line.rstrip("\n")


def test_demo_console_is_short_clean_and_leaves_nothing_running(tmp_path: Path) -> None:
    proc = _start_demo(tmp_path)
    children: set[int] = set()
    lines = list(_console_lines(proc, tmp_path, children))
    assert proc.wait(timeout=1800) == 0, "\n".join(lines)
    console = "\n".join(lines)
    assert "Traceback" not in console, console
    assert "httpx" not in console and "HTTP Request" not in console, console
    assert "pgserver" not in console and "initdb" not in console, console
    assert len(lines) <= 60, f"{len(lines)} lines:\n{console}"
    for stage in ("start the event store", "generate 3,000 events", "backfill", "load", "transform"):
        assert any(line.startswith("✓ " + stage) for line in lines), (stage, console)
    assert any(line.startswith("✓ backfill (3,000 rows") for line in lines), console
    assert "fct_orders" in console and "log file" in console
    assert children, "the demo started no child process (embedded PostgreSQL, Prefect API)?"
    assert _wait_gone(tmp_path, children) == []
    logs = list((tmp_path / "data" / "logs").glob("cardflow-demo-*.log"))
    assert len(logs) == 1 and "backfill" in logs[0].read_text()


@pytest.mark.parametrize("after", ["✓ generate"])
def test_demo_interrupted_with_ctrl_c_stops_everything_it_started(tmp_path: Path, after: str) -> None:
    proc = _start_demo(tmp_path)
    children: set[int] = set()
    lines: list[str] = []
    for line in _console_lines(proc, tmp_path, children):
        lines.append(line)
        if line.startswith(after):
            time.sleep(2)  # inside the pipeline's flow run
            children |= _descendants(proc.pid)
            proc.send_signal(signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=300)
    console = "\n".join(lines) + rest
    assert proc.returncode == 130, console  # the CLI's "interrupted", never a run that went on to finish
    assert "interrupted" in console and "Traceback" not in console, console
    assert _embedded_postmaster(tmp_path) <= children and children
    assert _wait_gone(tmp_path, children) == [], console
