"""``s3_to_snowflake_load_raw``: new Bronze files into RAW.EVENTS, exactly once per file.

The seed system's name; it serves both warehouses (DuckDB embedded, Snowflake via COPY INTO), which
:func:`cardflow.backends.chooser.resolve_backends` picks from settings and blocks (and checks, before
anything moves). A table artifact lists every file of the run with its status, rows and error. Files
that fail are reported and retried on the next run; the run itself then ends Failed, after
everything else was loaded, so an alert fires. A run holds a slot of the ``warehouse`` limit
(:mod:`tasks.limits`) from start to end.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.settings import Settings, get_settings
from cardflow.warehouse.load import artifact_rows, raise_if_failed
from tasks.alerts import alert_on_failure
from tasks.assets import record_raw_load
from tasks.limits import holds_warehouse_slot
from tasks.load import load_files_task, select_files_task
from tasks.run_names import load_run_name


@flow(
    name="s3_to_snowflake_load_raw",
    flow_run_name=load_run_name,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
@holds_warehouse_slot("s3_to_snowflake_load_raw")
def s3_to_snowflake_load_raw(
    manifest_keys: list[str] | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Load the Bronze files the manifests list (the new ones, by the load cursor, when ``manifest_keys`` is None).

    Args:
        manifest_keys: Bronze manifest keys (``{S3_PREFIX}/_manifests/...json``) to load; None
            loads the manifests written after the last one loaded (the load cursor).
        settings: configuration; defaults to the environment.

    Returns:
        Counts: files loaded / already loaded / failed, rows loaded, RAW rows after the run.

    Raises:
        LoadError: some files failed (named in the message and the artifact); all others loaded.
    """
    settings = settings or get_settings()
    backends = resolve_backends(settings, needs={"bronze", "warehouse", "load"})  # before any data moves
    logger = get_run_logger()
    store = backends.store()
    with backends.open_loader() as warehouse:
        selection = select_files_task(store, backends.settings, manifest_keys, warehouse)
        summary = load_files_task(warehouse, store, selection)
    counts = summary.as_dict()
    record_raw_load(
        backends.settings,
        store.uri(backends.settings.s3_prefix),
        {k: counts[k] for k in ("files_loaded", "rows_loaded", "raw_rows")},
    )
    create_table_artifact(
        key="raw-load",
        table=artifact_rows(summary),
        description=(
            f"RAW load into {summary.warehouse}: {counts['files_loaded']} files loaded "
            f"({counts['rows_loaded']} rows), {counts['files_already_loaded']} already loaded, "
            f"{counts['files_failed']} failed; RAW.EVENTS has {counts['raw_rows']} rows"
        ),
    )
    logger.info(
        "load: %d files loaded (%d rows), %d already loaded, %d failed; RAW.EVENTS rows=%d",
        counts["files_loaded"],
        counts["rows_loaded"],
        counts["files_already_loaded"],
        counts["files_failed"],
        counts["raw_rows"],
    )
    raise_if_failed(summary)
    return counts
