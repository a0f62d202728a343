"""Step 3 of a backfill run: its result, and a run manifest for what no chunk manifest listed.

Each committed chunk announced its own objects in its own manifest
(:mod:`cardflow.sources.eventstore.landing`). A run that landed no chunk still writes one manifest,
listing what an older cardflow's state kept pending (objects committed under the watermark but
never announced), possibly nothing, so every run names a manifest; the state's pending lists are
cleared only after it is written.
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
    manifest_key: str
    """the run's last manifest"""
    manifest_keys: list[str]
    """every manifest the run wrote, in order: one per chunk that listed an object, or the run manifest"""
    manifest_objects: int
    watermark_before: dict[str, str] | None
    watermark_after: dict[str, str] | None
    chunks: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def finish_backfill(
    plan: BackfillPlan, landed: ChunksLanded, settings: Settings, store: BronzeStore
) -> BackfillResult:
    """The run's result; first, when no chunk manifest was written, the run manifest (see the module doc)."""
    if not plan.commits_state:
        state = BackfillState()
    elif landed.state is not None:
        state = landed.state  # as the landing committed it, with its version: no second copy
    else:
        state = load_state(store, plan.state_key)
    watermark_after = state.watermark if plan.commits_state else plan.watermark_before
    keys, listed = list(landed.manifest_keys), landed.objects_listed
    if not keys:
        manifest = build_manifest(
            run_id=plan.run_id,
            origin=ORIGIN,
            created_at=plan.ingested_at,
            objects=list(state.pending_objects),
            quarantine=list(state.pending_quarantine),
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
        keys, listed = [write_manifest(store, settings.s3_prefix, manifest)], len(manifest["objects"])
        if plan.commits_state:
            state.pending_objects, state.pending_quarantine = [], []
            state.run_id = plan.run_id
            state.updated_at = format_timestamp(datetime.now(UTC))
            save_state(store, plan.state_key, state)
    logger.info("backfill %s: %d manifest(s) list %d objects, the last %s", plan.run_id, len(keys), listed, keys[-1])
    return BackfillResult(
        run_id=plan.run_id,
        mode=plan.mode,
        rows_read=landed.rows_read,
        rows_written=landed.rows_written,
        rows_already_in_bronze=landed.rows_already_in_bronze,
        quarantined=landed.quarantined,
        objects_written=landed.objects_written,
        quarantine_objects_written=landed.quarantine_objects_written,
        manifest_key=keys[-1],
        manifest_keys=keys,
        manifest_objects=listed,
        watermark_before=plan.watermark_before.as_dict() if plan.watermark_before else None,
        watermark_after=watermark_after.as_dict() if watermark_after else None,
        chunks=landed.chunks,
    )

