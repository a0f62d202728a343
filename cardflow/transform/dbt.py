"""Running the dbt project (RAW -> Silver -> Gold) from Python.

Three concerns, in order:

* the **profile**: :func:`temporary_profile` renders a ``profiles.yml`` for the one warehouse the
  backend chooser resolved (a DuckDB file, or the same :class:`SnowflakeParams` the loader, the
  gates and the report use) into a private temporary directory (file mode 0600), hands dbt that
  directory, and deletes it afterwards. Credentials never enter ``os.environ``.
  ``dbt/profiles.yml`` stays for people who run dbt by hand from the ``dbt/`` folder.
* the **project variables**: :func:`dbt_env`, the ONE mapping from cardflow settings to the
  non-secret variables ``dbt_project.yml`` and ``_sources.yml`` read through ``env_var`` (schema
  names, freshness and volume thresholds). They are set for the duration of one invocation.
* :func:`invoke_dbt`: one dbt command through a :data:`DbtInvoker` (plain ``dbtRunner`` here;
  ``tasks/dbt.py`` supplies prefect-dbt's runner, which makes each dbt node a Prefect task run),
  and a typed :class:`DbtRunSummary` of what every node did.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from cardflow.errors import TransformError
from cardflow.settings import Settings
from cardflow.warehouse.connection import DuckDBTarget, WarehouseTarget

logger = logging.getLogger(__name__)

DBT_PROJECT_DIR: Final = Path(__file__).resolve().parents[2] / "dbt"
PROFILE_NAME: Final = "cardflow"
"""The profile ``dbt_project.yml`` names."""
#: dbt node statuses that fail a run (models: error; tests: fail/error; freshness: error/runtime error)
FAILED_STATUSES: Final = frozenset({"error", "fail", "runtime error"})
WARNING_STATUSES: Final = frozenset({"warn"})
DbtInvoker = Callable[[list[str], Path, Path], Any]
"""Runs one dbt command: ``(args, project_dir, profiles_dir) -> dbtRunnerResult``. The library runs
plain ``dbtRunner``; ``tasks/dbt.py`` passes prefect-dbt's runner (one Prefect task per dbt node)."""

# os.environ is process-global: one dbt invocation at a time may own the project variables
_ENV_LOCK = threading.Lock()


# --- the profile ------------------------------------------------------------------------------
def project_dir(settings: Settings) -> Path:
    """The dbt project directory (DBT_PROJECT_DIR, else the ``dbt/`` folder of this repository)."""
    return (settings.dbt_project_dir or DBT_PROJECT_DIR).expanduser().resolve()


def dbt_artifacts_dir(settings: Settings) -> Path:
    """Where dbt writes its target and its logs: ``<CARDFLOW_DATA_DIR>/dbt/{target,logs}``.

    Beside the data they describe, kept between runs (dbt's partial parsing reuses the target: one
    folder per set of variables, see :func:`target_path`), and never in the checkout a worker runs
    from."""
    return settings.resolved_data_dir / "dbt"


def render_profile(settings: Settings, target: WarehouseTarget) -> dict[str, Any]:
    """The ``profiles.yml`` content for ``target``: one output, named after the dbt target.

    The default schema is Silver's; Gold models set theirs in ``dbt_project.yml``.
    """
    schema = settings.snowflake_silver_schema
    if isinstance(target, DuckDBTarget):
        output: dict[str, Any] = {
            "type": "duckdb",
            "path": str(target.path),
            "schema": schema,
            "threads": settings.dbt_threads,
            # no `json` under extensions: it is built into the wheel and INSTALL would go online
            "settings": {"TimeZone": "UTC"},
        }
    else:
        output = target.dbt_output(schema=schema, threads=settings.dbt_threads)
    name = settings.resolved_dbt_target
    return {PROFILE_NAME: {"target": name, "outputs": {name: output}}}


@contextmanager
def temporary_profile(settings: Settings, target: WarehouseTarget) -> Iterator[Path]:
    """A private directory holding ``profiles.yml`` for ``target``; removed on exit.

    The directory is created by :func:`tempfile.mkdtemp` (mode 0700) and the file is created with
    mode 0600 before anything is written to it, so no other user can read the credentials at any
    time. Yields the directory, which is what dbt's ``--profiles-dir`` takes.
    """
    directory = Path(tempfile.mkdtemp(prefix="cardflow-dbt-profile-"))
    try:
        path = directory / "profiles.yml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(render_profile(settings, target), handle, sort_keys=False)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --- settings -> dbt project variables ----------------------------------------------------------
def dbt_env(settings: Settings) -> dict[str, str]:
    """Non-secret variables the dbt project reads through ``env_var``, derived from ``settings``.

    Schema names (the audit builds swap them), thresholds, and the target and DuckDB path that
    ``dbt/profiles.yml`` reads when dbt is run by hand. Never credentials: those are rendered into
    the temporary profile only.
    """
    return {
        "DBT_TARGET": settings.resolved_dbt_target,
        "CARDFLOW_DUCKDB_PATH": str(settings.duckdb_path),
        "CARDFLOW_DBT_THREADS": str(settings.dbt_threads),
        "CARDFLOW_DBT_LOOKBACK_MINUTES": str(settings.dbt_lookback_minutes),
        "SNOWFLAKE_RAW_SCHEMA": settings.snowflake_raw_schema,
        "SNOWFLAKE_SILVER_SCHEMA": settings.snowflake_silver_schema,
        "SNOWFLAKE_GOLD_SCHEMA": settings.snowflake_gold_schema,
        "RAW_EVENTS_FRESHNESS_WARN_HOURS": repr(float(settings.raw_events_freshness_warn_hours)),
        "RAW_EVENTS_FRESHNESS_ERROR_HOURS": repr(float(settings.raw_events_freshness_error_hours)),
    }


@contextmanager
def dbt_environment(settings: Settings) -> Iterator[dict[str, str]]:
    """Set :func:`dbt_env` in ``os.environ`` for the duration of one dbt invocation, then restore.

    dbt's ``env_var`` reads the process environment, so this is how the project variables reach
    it. Only non-secret values are ever set here.
    """
    env = dbt_env(settings)
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in env}
        try:
            os.environ.update(env)
            yield env
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def target_path(settings: Settings) -> Path:
    """dbt's target directory, kept between runs so dbt parses only what changed (partial parsing).

    dbt re-parses the whole project when a variable it read changed since the saved manifest, and
    the audit builds change the schema variables per layer; so each set of :func:`dbt_env` values
    gets its own directory under ``<data dir>/dbt/target/``, and every layer finds its own saved
    manifest on the next run.
    """
    env = dbt_env(settings)
    digest = hashlib.sha256(repr(sorted(env.items())).encode()).hexdigest()[:12]
    return dbt_artifacts_dir(settings) / "target" / digest


# --- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeOutcome:
    """What one dbt node did in one invocation."""

    unique_id: str
    resource_type: str
    name: str
    status: str
    message: str
    failures: int | None = None
    execution_time: float = 0.0

    def describe(self) -> str:
        detail = f" ({self.failures} failing rows)" if self.failures else ""
        message = (self.message or "").strip().splitlines()[0] if self.message else ""
        return f"{self.resource_type} {self.name}: {self.status}{detail}" + (
            f": {message}" if message else ""
        )


@dataclass
class DbtRunSummary:
    """The outcome of one dbt command: per-node results plus counts."""

    command: str
    success: bool
    nodes: list[NodeOutcome] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    @property
    def failed(self) -> list[NodeOutcome]:
        return [n for n in self.nodes if n.status in FAILED_STATUSES]

    @property
    def warnings(self) -> list[NodeOutcome]:
        return [n for n in self.nodes if n.status in WARNING_STATUSES]

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(n.status for n in self.nodes))

    def node_rows(self) -> list[dict[str, Any]]:
        """Every node, slowest first: type, name, status, seconds, failing rows (None: not a test).

        The flow's artifact renders these as one table per layer: what each node of the build did,
        at no per-node cost (a Prefect task run per node costs more than the build it shows:
        docs/monitoring.md)."""
        ranked = sorted(self.nodes, key=lambda n: n.execution_time, reverse=True)
        return [
            {
                "type": n.resource_type,
                "name": n.name,
                "status": n.status,
                "seconds": round(n.execution_time, 3),
                "failures": n.failures,
            }
            for n in ranked
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "success": self.success,
            "counts": self.counts,
            "failed": [n.describe() for n in self.failed],
            "warnings": [n.describe() for n in self.warnings],
            "elapsed_seconds": round(self.elapsed_seconds, 2),
            "nodes": self.node_rows(),
        }


def summarize(command: str, result: Any) -> DbtRunSummary:
    """Turn a ``dbtRunnerResult`` into a :class:`DbtRunSummary` (works for build and freshness)."""
    execution = getattr(result, "result", None)
    nodes = []
    for item in getattr(execution, "results", None) or []:
        node = getattr(item, "node", None)
        status = getattr(item, "status", "")
        nodes.append(
            NodeOutcome(
                unique_id=getattr(node, "unique_id", "") or getattr(item, "unique_id", ""),
                resource_type=str(getattr(node, "resource_type", "") or "").lower(),
                name=getattr(node, "name", "") or "",
                status=str(getattr(status, "value", status)).lower(),
                message=str(getattr(item, "message", "") or ""),
                failures=getattr(item, "failures", None),
                execution_time=float(getattr(item, "execution_time", 0.0) or 0.0),
            )
        )
    elapsed = float(getattr(execution, "elapsed_time", 0.0) or 0.0)
    return DbtRunSummary(
        command=command, success=bool(getattr(result, "success", False)), nodes=nodes, elapsed_seconds=elapsed
    )


# --- invocation -------------------------------------------------------------------------------
def invoke_dbt(
    args: Sequence[str], settings: Settings, target: WarehouseTarget, *, invoker: DbtInvoker | None = None
) -> DbtRunSummary:
    """Run one dbt command on the project, against ``target``, through a temporary profile.

    Args:
        args: the dbt command and its flags, e.g. ``["build", "--full-refresh"]``.
        settings: cardflow settings (target name, schemas, thresholds).
        target: the warehouse from the backend chooser (rendered into the temporary profile).
        invoker: what runs dbt (default: dbt's own ``dbtRunner``; the Prefect tasks pass
            prefect-dbt's runner when CARDFLOW_DBT_NODE_TASKS is on).

    Returns:
        The summary; node failures do not raise here (the caller decides what fails a run).

    Raises:
        TransformError: dbt could not run at all (project does not parse, profile invalid, ...).
    """
    run = invoker or _invoke_plain
    command = " ".join(args)
    full_args = [*args, "--target", settings.resolved_dbt_target]
    if "--target-path" not in args:
        full_args += ["--target-path", str(target_path(settings))]
    if "--log-path" not in args:
        full_args += ["--log-path", str(dbt_artifacts_dir(settings) / "logs")]
    with temporary_profile(settings, target) as profiles, dbt_environment(settings):
        try:
            result = run(full_args, project_dir(settings), profiles)
        except TransformError:
            raise
        except Exception as exc:  # dbt raised before producing results (parse, profile, connection)
            raise TransformError(
                f"dbt {command} could not run on target {settings.resolved_dbt_target!r} "
                f"(project {project_dir(settings)}): {exc}. Check the project with `dbt debug` and the "
                "warehouse settings."
            ) from exc
        finally:
            _release_duckdb()
    if getattr(result, "exception", None) is not None and not getattr(result, "result", None):
        raise TransformError(
            f"dbt {command} failed on target {settings.resolved_dbt_target!r}: {result.exception}"
        )
    summary = summarize(command, result)
    logger.info(
        "dbt %s on %s: %d nodes, %s, %.1f s",
        command,
        settings.resolved_dbt_target,
        len(summary.nodes),
        summary.counts,
        summary.elapsed_seconds,
    )
    return summary


def _release_duckdb() -> None:
    """Close the DuckDB handle dbt-duckdb keeps for the whole process after an in-process run.

    Without this the warehouse file stays open read-write in this process, and the next step (a
    quality gate, a load, a read-only check) cannot open it.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing to release
        return
    DuckDBConnectionManager.close_all_connections()


_DBT_LOG_LEVELS = {"info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
_dbt_logger = logging.getLogger(f"{__name__}.runner")


def _forward_dbt_event(event: Any) -> None:
    """dbt's INFO and louder events into Python logging (the run's log file, Prefect's run logs)."""
    level = _DBT_LOG_LEVELS.get(getattr(event.info, "level", ""))
    if level is not None and event.info.msg:
        _dbt_logger.log(level, "%s", event.info.msg)


def _artifact_flags(args: Sequence[str]) -> list[str]:
    """What dbt writes beside the run, unless the operator chose with dbt's own variables.

    - The file log (``<data dir>/dbt/logs/dbt.log``) at ``info``: one line per node and result.
      dbt's default, ``debug``, also writes every query and cache event: ~0.15 s (~8 % of dbt's
      elapsed) of a build with nothing new, measured at 100k events. ``DBT_LOG_LEVEL_FILE=debug``
      brings it back.
    - No ``manifest.json`` / ``run_results.json`` (``--no-write-json``): nothing in cardflow reads
      them (results come back in memory), and dbt writes the manifest twice a run (~0.2 s). Both
      together: 4.37 -> 4.06 s for a nothing-new build at 1M events (A/B medians, 2026-12-05).
      Partial parsing keeps its own state (``partial_parse.msgpack``), written either way. A command
      that reads its JSON passes ``--write-json``; ``DBT_WRITE_JSON=true`` writes them on every run
      (for tools that read dbt's artifacts).
    """
    flags = []
    if "DBT_LOG_LEVEL_FILE" not in os.environ and "--log-level-file" not in args:
        flags += ["--log-level-file", "info"]
    if "DBT_WRITE_JSON" not in os.environ and "--write-json" not in args:
        flags += ["--no-write-json"]
    return flags


def _invoke_plain(args: list[str], project: Path, profiles: Path) -> Any:
    """dbt's own ``dbtRunner`` (the default :data:`DbtInvoker`).

    A library does not print: dbt's console logger is switched off (``--log-level none``; its file
    log under the data dir stays, see :func:`_artifact_flags`) and its events go to Python logging
    through a callback, so the CLI's quiet console and Prefect's run logs decide where they show.
    """
    from dbt.cli.main import dbtRunner

    runner = dbtRunner(callbacks=[_forward_dbt_event])
    quiet = ["--log-level", "none", *_artifact_flags(args)]
    return runner.invoke([*quiet, *args, "--project-dir", str(project), "--profiles-dir", str(profiles)])
