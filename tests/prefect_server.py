"""A real, self-hosted ``prefect server start`` on loopback for integration tests.

Each server gets its own PREFECT_HOME and SQLite database in a temporary directory and a free
port. Every Prefect CLI call goes through :meth:`PrefectServer.cli` in a subprocess with an explicit
environment: the session-wide test harness points *this* process at an ephemeral API, and that must
not leak into the server, the deploy, or the worker. Processes are started in their own process
groups and killed as groups on :meth:`stop`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

PREFECT = str(Path(sys.executable).with_name("prefect"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment() -> dict[str, str]:
    """``os.environ`` without any PREFECT_* or cardflow setting (the test adds what it needs)."""
    from cardflow.settings import Settings

    ours = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        ours.update(getattr(alias, "choices", []) or [])
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k not in ours}


class PrefectServer:
    """One server process plus any workers started against it."""

    def __init__(self, home: Path, *, extra_env: Mapping[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.ui_url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        self.env = clean_environment() | {
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_UI_URL": self.ui_url,
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_CLI_PROMPT": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
            # the worker and flows must not wait on a slow 2-core machine
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        } | dict(extra_env or {})
        self.processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    # --- processes -------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
        log = self.home / f"{name}.log"
        handle = log.open("wb")
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=dict(env or self.env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, proc, log))

    def start(self, timeout: float = 180) -> None:
        """Start the server and wait until ``/api/health`` answers."""
        self._spawn("server", [PREFECT, "server", "start", "--no-ui"], cwd=self.home)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive("server")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"prefect server not healthy within {timeout} s:\n{self.log('server')}")

    def start_worker(self, pool: str, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self._spawn(
            f"worker-{pool}",
            [PREFECT, "worker", "start", "--pool", pool, "--type", "process"],
            cwd=cwd,
            env=env,
        )

    def _check_alive(self, name: str) -> None:
        for proc_name, proc, _ in self.processes:
            if proc_name == name and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")

    def log(self, name: str) -> str:
        for proc_name, _, log in self.processes:
            if proc_name == name:
                return log.read_text(errors="replace")[-6000:]
        return ""

    def stop(self) -> None:
        """Kill every process group started here (workers first, then the server)."""
        for _, proc, _ in reversed(self.processes):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for _, proc, _ in reversed(self.processes):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    # --- CLI and API -----------------------------------------------------------------------------
    def cli(self, *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
        """Run ``prefect --no-prompt ARGS`` against this server; raise with its output on failure."""
        result = subprocess.run(
            [PREFECT, "--no-prompt", *args],
            cwd=cwd,
            env=dict(env or self.env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            command = " ".join(args)
            raise RuntimeError(f"prefect {command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def api(self, method: str, path: str, body: Any | None = None, *, attempts: int = 4) -> Any:
        """One API call; a read timeout (a server starved by a loaded 2-core machine) is retried."""
        for attempt in range(1, attempts + 1):
            try:
                response = httpx.request(method, f"{self.api_url}{path}", json=body, timeout=30)
                break
            except httpx.TimeoutException:
                if attempt == attempts:
                    raise
                time.sleep(2)
        response.raise_for_status()
        return response.json() if response.content else None

    def flow_runs(self, deployment_id: str) -> list[dict[str, Any]]:
        return self.api("POST", "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}})

    def deployment(self, flow_name: str, name: str) -> dict[str, Any]:
        return self.api("GET", f"/deployments/name/{flow_name}/{name}")

    def wait_for_run(
        self, deployment_id: str, *, timeout: float, exclude: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """Wait until a run of the deployment (not in ``exclude``) reaches a final state."""
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            for name, proc, _ in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            seen = [r for r in self.flow_runs(deployment_id) if r["id"] not in exclude]
            for run in seen:
                if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                    return run
            time.sleep(1)
        states = json.dumps([(r["name"], r["state_type"]) for r in seen])
        raise AssertionError(f"no finished run within {timeout} s (runs: {states})\n{self.worker_logs()}")

    def worker_logs(self) -> str:
        return "\n".join(self.log(name) for name, _, _ in self.processes if name.startswith("worker"))

    def run_logs(self, flow_run_id: str) -> str:
        logs = self.api("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200})
        return "\n".join(entry["message"] for entry in logs)
