"""Step 3 of a backfill run: write the run manifest (last of the data), then clear the state's list.

The manifest lists every object committed under the watermark but not yet announced (including
those of an earlier run that was killed between chunks), so the load never misses one; the state's
pending lists are cleared only after the manifest is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cardflow.bronze.manifest import build_manifest, write_manifest
from cardflow.bronze.quarantine import ORIGIN
from cardflow.bronze.store import BronzeStore
from cardflow.contract import format_timestamp
from cardflow.settings import Settings
from cardflow.sources.eventstore.landing import ChunksLanded
from cardflow.sources.eventstore.plan import BackfillPlan, Mode
from cardflow.sources.eventstore.watermark import BackfillState, load_state, save_state

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackfillResult:
    """What a run did (the flow returns it and publishes it as an artifact)."""

    run_id: str
    mode: Mode
    rows_read: int
    rows_written: int
    rows_already_in_bronze: int
    quarantined: int
    objects_written: int
    quarantine_objects_written: int
    manifest_key: str | None
    manifest_objects: int
    watermark_before: dict[str, str] | None
    watermark_after: dict[str, str] | None
    chunks: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def finish_backfill(
    plan: BackfillPlan, landed: ChunksLanded, settings: Settings, store: BronzeStore
) -> BackfillResult:
    """Write the run manifest (last of the data), then clear what it lists from the state."""
    if not plan.commits_state:
        state = BackfillState()
    elif landed.state is not None:
        state = landed.state  # as the landing committed it, with its version: no second copy
    else:
        state = load_state(store, plan.state_key)
    if plan.commits_state:
        objects = list(state.pending_objects)
        q_objects = list(state.pending_quarantine) + landed.adopted_quarantine
    else:
        objects = landed.objects + landed.adopted_objects
        q_objects = landed.quarantine_objects + landed.adopted_quarantine
    watermark_after = state.watermark if plan.commits_state else plan.watermark_before
    manifest = build_manifest(
        run_id=plan.run_id,
        origin=ORIGIN,
        created_at=plan.ingested_at,
        objects=objects,
        quarantine=q_objects,
        extra={
            "mode": plan.mode,
            "range": {"after": plan.lo.as_dict(), "through": plan.hi.as_dict() if plan.hi else None},
            "watermark": {
                "before": plan.watermark_before.as_dict() if plan.watermark_before else None,
                "after": watermark_after.as_dict() if watermark_after else None,
            },
            "rows_read": landed.rows_read,
            "rows_written": landed.rows_written,
            "quarantined": landed.quarantined,
        },
    )
    mkey = write_manifest(store, settings.s3_prefix, manifest)
    if plan.commits_state:
        state.pending_objects, state.pending_quarantine = [], []
        state.run_id = plan.run_id
        state.updated_at = format_timestamp(datetime.now(UTC))
        save_state(store, plan.state_key, state)
    logger.info("backfill %s: manifest %s lists %d objects", plan.run_id, mkey, len(manifest["objects"]))
    return BackfillResult(
        run_id=plan.run_id,
        mode=plan.mode,
        rows_read=landed.rows_read,
        rows_written=landed.rows_written,
        rows_already_in_bronze=landed.rows_already_in_bronze,
        quarantined=landed.quarantined,
        objects_written=len(landed.objects),
        quarantine_objects_written=len(landed.quarantine_objects),
        manifest_key=mkey,
        manifest_objects=len(manifest["objects"]),
        watermark_before=plan.watermark_before.as_dict() if plan.watermark_before else None,
        watermark_after=watermark_after.as_dict() if watermark_after else None,
        chunks=landed.chunks,
    )

