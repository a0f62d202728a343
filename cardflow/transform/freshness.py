"""``dbt source freshness`` on RAW.EVENTS: the one measurement of how fresh the data is.

The source (``dbt/models/staging/_sources.yml``) declares ``loaded_at_field: inserted_at`` and the
warn/error thresholds from RAW_EVENTS_FRESHNESS_*_HOURS; dbt runs the query and writes
``sources.json``. :func:`newest_event_at` returns what dbt measured, and the RAW checks
(:func:`cardflow.quality.raw_checks.run_raw_checks`) turn it into the freshness verdict that gates
the transform (so the verdict, the alert and the artifact keep one shape with the volume check).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from cardflow.errors import TransformError
from cardflow.settings import Settings
from cardflow.transform.dbt import DbtInvoker, invoke_dbt, target_path
from cardflow.warehouse.connection import WarehouseTarget

logger = logging.getLogger(__name__)

RAW_EVENTS_SOURCE = "source.cardflow.raw.events"


def newest_event_at(
    settings: Settings, target: WarehouseTarget, *, invoker: DbtInvoker | None = None
) -> datetime | None:
    """The newest ``inserted_at`` of RAW.EVENTS as ``dbt source freshness`` measured it (None: empty).

    Raises:
        TransformError: dbt could not run, or its ``sources.json`` has no result for RAW.EVENTS.
    """
    summary = invoke_dbt(
        ["source", "freshness", "--select", "source:raw.events", "--write-json"],  # sources.json, read below
        settings,
        target,
        invoker=invoker,
    )
    path = target_path(settings) / "sources.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))["results"]
        result = next(r for r in results if r.get("unique_id") == RAW_EVENTS_SOURCE)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise TransformError(
            f"dbt source freshness wrote no result for {RAW_EVENTS_SOURCE} in {path} ({exc}); "
            f"dbt reported {summary.counts}. Check the source with `dbt source freshness`."
        ) from exc
    newest = result.get("max_loaded_at")
    if not newest:  # an empty table: dbt reports a runtime error and no timestamp
        logger.info("dbt source freshness: RAW.EVENTS has no events (%s)", result.get("status"))
        return None
    value = datetime.fromisoformat(str(newest).replace("Z", "+00:00"))
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    logger.info("dbt source freshness: newest RAW event %s (%s)", value.isoformat(), result.get("status"))
    return value
