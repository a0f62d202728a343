"""``bronze_replay``: reload a date range of Bronze into RAW, then rebuild what depends on it.

For when transformation or load logic changed, or RAW rows of a period are suspect: the immutable
Bronze files (not the event store) are the source. Each file's RAW rows are replaced atomically
(DuckDB: delete rows + history and re-insert in one transaction per file; Snowflake: DELETE and
COPY ... FORCE = TRUE in one transaction), then dbt rebuilds Silver and Gold with a full refresh.
The run holds the ``warehouse`` slot throughout; the rebuild (a subflow) runs under it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.errors import TransformError
from cardflow.settings import Settings, get_settings
from cardflow.warehouse.load import artifact_rows, raise_if_failed
from tasks.alerts import alert_on_failure
from tasks.limits import holds_warehouse_slot
from tasks.load import reload_files_task, select_date_range_task
from tasks.run_names import replay_run_name


@flow(
    name="bronze_replay",
    flow_run_name=replay_run_name,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
@holds_warehouse_slot("bronze_replay")
def bronze_replay(
    start: date, end: date, rebuild: bool = True, settings: Settings | None = None
) -> dict[str, Any]:
    """Reload Bronze partitions dated ``start``..``end`` (inclusive) and rebuild Silver/Gold.

    Args:
        start: first ``dt`` partition to reload.
        end: last ``dt`` partition to reload.
        rebuild: run ``dbt_transform_and_test(full_refresh=True)`` afterwards.
        settings: configuration; defaults to the environment.

    Raises:
        LoadError: some files could not be reloaded (their old rows are left untouched).
        TransformError: the transform flow is not available in this installation.
    """
    given = settings  # the rebuild gets the caller's settings or resolves the environment itself
    settings = settings or get_settings()
    backends = resolve_backends(settings, needs={"bronze", "warehouse", "load"})  # before any data moves
    logger = get_run_logger()
    store = backends.store()
    files = select_date_range_task(store, backends.settings, start, end)
    logger.info("replay: %d Bronze files dated %s..%s", len(files), start, end)
    with backends.open_loader() as warehouse:
        summary = reload_files_task(warehouse, store, files)
    create_table_artifact(
        key="bronze-replay",
        table=artifact_rows(summary),
        description=(
            f"Replay of Bronze {start}..{end} into {summary.warehouse}: {summary.loaded} files reloaded"
        ),
    )
    raise_if_failed(summary, "reload")
    counts = summary.as_dict() | {"start": start.isoformat(), "end": end.isoformat(), "rebuilt": False}
    if rebuild:
        transform = _transform_flow()
        counts["transform"] = transform(full_refresh=True, settings=given)
        counts["rebuilt"] = True
    return counts


def _transform_flow() -> Any:
    try:
        from flows.transform import dbt_transform_and_test
    except ImportError as exc:
        raise TransformError(
            "replay reloaded RAW but cannot rebuild Silver/Gold: flows.transform is not installed "
            f"({exc}); run `cardflow replay --no-rebuild` or install the transform flow, "
            "then run it with full_refresh"
        ) from exc
    return dbt_transform_and_test
