"""Flow run names that say what a run processed (``@flow(flow_run_name=...)`` callables).

Prefect calls these with no arguments inside the run's context; they read the validated
parameters from it. A name must never fail a run, so anything unexpected falls back to a generic
word rather than raising.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def _parameters() -> dict[str, Any]:
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return dict(ctx.parameters or {}) if ctx is not None else {}


def _stamp(value: Any, default: str) -> str:
    """A compact UTC timestamp (``20261105T0300``) or date for a run name."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value.replace(" ", "T")[:25]
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
        return value.strftime("%Y%m%dT%H%M")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    return str(value)[:25]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M")


def backfill_run_name() -> str:
    """``backfill-<start>-<end>``: the window; ``watermark``/``now`` when the run is incremental."""
    params = _parameters()
    name = f"backfill-{_stamp(params.get('start'), 'watermark')}-{_stamp(params.get('end'), 'now')}"
    return name + ("-full-refresh" if params.get("full_refresh") else "")


def replay_run_name() -> str:
    """``replay-<start>-<end>``: the Bronze ``dt`` partitions reloaded."""
    params = _parameters()
    return f"replay-{_stamp(params.get('start'), 'start')}-{_stamp(params.get('end'), 'end')}"


def load_run_name() -> str:
    """``load-<n>-manifests`` when given manifests, ``load-new-files`` when it lists Bronze."""
    keys = _parameters().get("manifest_keys")
    if keys:
        return f"load-{len(keys)}-manifest{'s' if len(keys) != 1 else ''}"
    return f"load-new-files-{_now()}"


def transform_run_name() -> str:
    """``dbt-build-<full-refresh|incremental>-<when>``."""
    mode = "full-refresh" if _parameters().get("full_refresh") else "incremental"
    return f"dbt-build-{mode}-{_now()}"


def realtime_run_name() -> str:
    """``mq-batch-<batch_id>``: which landed batch this run records (from ``batch_id``, else from the
    manifest key ``.../<ingested_at>-<batch_id>.json``)."""
    params = _parameters()
    batch_id = params.get("batch_id")
    if not batch_id:
        stem = str(params.get("manifest_key") or "").rsplit("/", 1)[-1].removesuffix(".json")
        batch_id = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    return f"mq-batch-{batch_id}" if batch_id else f"mq-batch-{_now()}"


def pipeline_run_name() -> str:
    """``medallion-<when>-<full-refresh|incremental>``."""
    mode = "full-refresh" if _parameters().get("full_refresh") else "incremental"
    return f"medallion-{_now()}-{mode}"
