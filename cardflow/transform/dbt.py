"""Running the dbt project (RAW -> Silver -> Gold) from Python.

Three concerns, in order:

* :func:`dbt_env`: the ONE mapping from cardflow :class:`~cardflow.settings.Settings` to the
  environment variables ``dbt/profiles.yml`` and ``dbt/dbt_project.yml`` read (dbt can only take
  configuration through ``env_var``). Flows pass settings explicitly; nothing else builds this.
* :func:`invoke_dbt`: one dbt command, either through prefect-dbt's ``PrefectDbtRunner`` (each dbt
  node becomes a Prefect task run when called inside a flow) or through plain ``dbtRunner``, and a
  typed :class:`DbtRunSummary` of what every node did.
* :func:`dbt_source_freshness` / :func:`dbt_build`: the two steps of ``dbt_transform_and_test``,
  which raise with the failed nodes listed and otherwise return the summary (warnings included).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cardflow.errors import QualityGateFailed, TransformError
from cardflow.settings import Settings

logger = logging.getLogger(__name__)

DBT_PROJECT_DIR: Final = Path(__file__).resolve().parents[2] / "dbt"
#: dbt node statuses that fail a run (models: error; tests: fail/error; freshness: error/runtime error)
FAILED_STATUSES: Final = frozenset({"error", "fail", "runtime error"})
WARNING_STATUSES: Final = frozenset({"warn"})
RunnerKind = Literal["prefect", "plain"]

# os.environ is process-global: one dbt invocation at a time may own it
_ENV_LOCK = threading.Lock()


# --- settings -> dbt environment ------------------------------------------------------------------
def project_dir(settings: Settings) -> Path:
    """The dbt project directory (DBT_PROJECT_DIR, else the ``dbt/`` folder of this repository)."""
    return (settings.dbt_project_dir or DBT_PROJECT_DIR).expanduser().resolve()


def profiles_dir(settings: Settings) -> Path:
    """The directory holding profiles.yml (DBT_PROFILES_DIR, else the project directory)."""
    return (settings.dbt_profiles_dir or project_dir(settings)).expanduser().resolve()


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment variables the dbt project reads, derived from ``settings`` (the only place).

    The Snowflake password goes in ``DBT_ENV_SECRET_SNOWFLAKE_PASSWORD``: dbt scrubs values of
    ``DBT_ENV_SECRET_*`` variables from its logs. Unset optional values are left out, so the
    project's defaults apply.
    """
    env: dict[str, str] = {
        "DBT_TARGET": settings.resolved_dbt_target,
        "CARDFLOW_DUCKDB_PATH": str(settings.duckdb_path),
        "CARDFLOW_DBT_THREADS": str(settings.dbt_threads),
        "CARDFLOW_DBT_LOOKBACK_MINUTES": str(settings.dbt_lookback_minutes),
        "SNOWFLAKE_WAREHOUSE": settings.snowflake_warehouse,
        "SNOWFLAKE_DATABASE": settings.snowflake_database,
        "SNOWFLAKE_RAW_SCHEMA": settings.snowflake_raw_schema,
        "SNOWFLAKE_SILVER_SCHEMA": settings.snowflake_silver_schema,
        "SNOWFLAKE_GOLD_SCHEMA": settings.snowflake_gold_schema,
        "SNOWFLAKE_PROTOCOL": settings.snowflake_protocol,
        "RAW_EVENTS_FRESHNESS_WARN_HOURS": repr(float(settings.raw_events_freshness_warn_hours)),
        "RAW_EVENTS_FRESHNESS_ERROR_HOURS": repr(float(settings.raw_events_freshness_error_hours)),
        "VOLUME_ANOMALY_PCT": repr(float(settings.volume_anomaly_pct)),
        "VOLUME_ANOMALY_LOOKBACK_DAYS": str(settings.volume_anomaly_lookback_days),
    }
    optional = {
        "SNOWFLAKE_ACCOUNT": settings.snowflake_account,
        "SNOWFLAKE_USER": settings.snowflake_user,
        "SNOWFLAKE_ROLE": settings.snowflake_role,
        "SNOWFLAKE_HOST": settings.snowflake_host,
        "SNOWFLAKE_PORT": str(settings.snowflake_port) if settings.snowflake_port else None,
        "DBT_ENV_SECRET_SNOWFLAKE_PASSWORD": (
            settings.snowflake_password.get_secret_value() if settings.snowflake_password else None
        ),
    }
    env.update({name: value for name, value in optional.items() if value})
    return env


@contextmanager
def dbt_environment(settings: Settings) -> Iterator[dict[str, str]]:
    """Set :func:`dbt_env` in ``os.environ`` for the duration of one dbt invocation, then restore.

    dbt's ``env_var`` reads the process environment, so this is how settings reach it. Variables
    the project reads but ``settings`` leaves unset are removed for the duration, so a stray value
    in the parent environment cannot leak into a run configured otherwise.
    """
    env = dbt_env(settings)
    managed = set(env) | {
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_ROLE",
        "SNOWFLAKE_HOST",
        "SNOWFLAKE_PORT",
        "DBT_ENV_SECRET_SNOWFLAKE_PASSWORD",
    }
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in managed}
        try:
            for name in managed:
                os.environ.pop(name, None)
            os.environ.update(env)
            yield env
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "success": self.success,
            "counts": self.counts,
            "failed": [n.describe() for n in self.failed],
            "warnings": [n.describe() for n in self.warnings],
            "elapsed_seconds": round(self.elapsed_seconds, 2),
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
def invoke_dbt(args: Sequence[str], settings: Settings, *, runner: RunnerKind | None = None) -> DbtRunSummary:
    """Run one dbt command on the project with settings-derived configuration.

    Args:
        args: the dbt command and its flags, e.g. ``["build", "--full-refresh"]``.
        settings: cardflow settings (target, warehouse paths and credentials, thresholds).
        runner: ``prefect`` = prefect-dbt's PrefectDbtRunner (one Prefect task per node when called
            inside a flow run; assets off, as cardflow publishes its own lineage artifacts);
            ``plain`` = dbt's own ``dbtRunner``. Default: settings.dbt_node_tasks.

    Returns:
        The summary; node failures do not raise here (see :func:`dbt_build`).

    Raises:
        TransformError: dbt could not run at all (project does not parse, profile invalid, ...).
    """
    kind: RunnerKind = runner or ("prefect" if settings.dbt_node_tasks else "plain")
    command = " ".join(args)
    full_args = [*args, "--target", settings.resolved_dbt_target]
    with dbt_environment(settings):
        try:
            result = _invoke_prefect(full_args, settings) if kind == "prefect" else _invoke_plain(full_args, settings)
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


def _invoke_prefect(args: list[str], settings: Settings) -> Any:
    from prefect_dbt.core.runner import PrefectDbtRunner
    from prefect_dbt.core.settings import PrefectDbtSettings

    # Measured on the 1M-event project (88 nodes, nothing new): plain dbt ~15 s (freshness + build),
    # this runner ~51 s. Lowering its log_level to WARN brought that to ~24 s but dbt then stops
    # sending the NodeStart events the per-node tasks are made from, so no node was visible any more;
    # kept at the default. Where the overhead matters more than per-node visibility, set
    # CARDFLOW_DBT_NODE_TASKS=false (plain dbtRunner; the artifact still lists every warning).
    runner = PrefectDbtRunner(
        settings=PrefectDbtSettings(project_dir=project_dir(settings), profiles_dir=profiles_dir(settings)),
        raise_on_failure=False,
        disable_assets=True,
    )
    return runner.invoke(args)


def _invoke_plain(args: list[str], settings: Settings) -> Any:
    from dbt.cli.main import dbtRunner

    return dbtRunner().invoke(
        [*args, "--project-dir", str(project_dir(settings)), "--profiles-dir", str(profiles_dir(settings))]
    )


# --- the two steps of the transform flow ------------------------------------------------------
def dbt_source_freshness(settings: Settings, *, runner: RunnerKind | None = None) -> DbtRunSummary:
    """``dbt source freshness`` on RAW.EVENTS (ingested_at vs RAW_EVENTS_FRESHNESS_*_HOURS).

    Returns the summary (a warn-level staleness is in ``.warnings``).

    Raises:
        QualityGateFailed: gate ``raw_events_freshness`` when RAW is staler than the error threshold
            (or the check could not run): building on it would publish stale marts as current.
    """
    summary = invoke_dbt(["source", "freshness"], settings, runner=runner)
    if summary.failed:
        raise QualityGateFailed("raw_events_freshness", [n.describe() for n in summary.failed])
    return summary


def dbt_build(
    settings: Settings, *, full_refresh: bool = False, runner: RunnerKind | None = None
) -> DbtRunSummary:
    """``dbt build`` (models, unit tests, data tests in DAG order) of Silver and Gold.

    Args:
        full_refresh: rebuild incremental models from RAW instead of processing only new events.

    Returns:
        The summary; warn-severity test results are in ``.warnings``.

    Raises:
        TransformError: any model error or error-severity test failure, listing every failed node
            (type, name, status, failing rows, message), so the run log says what to fix.
    """
    args = ["build", "--full-refresh"] if full_refresh else ["build"]
    summary = invoke_dbt(args, settings, runner=runner)
    if summary.failed or not summary.success:
        failed = summary.failed
        listed = "\n".join(f"  - {n.describe()}" for n in failed) or "  (no node reported a failure)"
        raise TransformError(
            f"dbt {' '.join(args)} failed on target {settings.resolved_dbt_target!r}: {len(failed)} failed "
            f"node(s):\n{listed}\nFix the data or the model, then re-run dbt_transform_and_test "
            "(incremental models resume where they stopped)."
        )
    return summary


def summary_markdown(freshness: DbtRunSummary, build: DbtRunSummary) -> str:
    """A markdown report of a transform run: counts per status and every warning."""
    lines = ["# dbt transform", "", "| step | nodes | statuses | seconds |", "|---|---|---|---|"]
    for summary in (freshness, build):
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(summary.counts.items()))
        lines.append(
            f"| {summary.command} | {len(summary.nodes)} | {statuses} | {summary.elapsed_seconds:.1f} |"
        )
    warnings = freshness.warnings + build.warnings
    lines += ["", f"## Warnings ({len(warnings)})", ""]
    lines += [f"- {n.describe()}" for n in warnings] or ["none"]
    return "\n".join(lines)
