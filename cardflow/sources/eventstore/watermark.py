"""The backfill's committed high-water mark, stored with the Bronze data it describes.

One small JSON object per events table at ``cardflow.bronze.layout.state_key(prefix, "backfill-<table>")``:

- ``watermark``: the keyset position ``(inserted_at, event_id)`` up to which every row is in Bronze
  (or quarantined). It is rewritten only after all objects of a chunk are durably written, so a
  crash can lose uncommitted work but never skip rows.
- ``pending_objects`` / ``pending_quarantine``: empty since each chunk lists its objects in its own
  manifest before the watermark moves past it (:mod:`cardflow.sources.eventstore.landing`). A state
  an older cardflow left may hold objects committed but not yet listed; the next run's first
  manifest lists them, then clears them, so the load never misses an object.

Every write is conditional on the version this run read (:meth:`BronzeStore.write_if_version`:
S3 ``If-Match`` on the ETag, a compare-and-rename locally), so two backfills of the same table that
overlap (a manual run during a scheduled one, a worker restarted while the old run still lives)
cannot overwrite each other's watermark: the second writer fails loudly with
:class:`~cardflow.errors.ConcurrentWriteError` and nothing it wrote is lost (its objects are already
in Bronze; the next run lists them).

Keeping the state beside the data (not in a Prefect variable or a database) means the state and the
objects it vouches for live and die together: copy or wipe the prefix, and the state follows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cardflow.bronze.layout import state_key
from cardflow.bronze.store import BronzeStore
from cardflow.errors import StorageError
from cardflow.settings import Settings
from cardflow.sources.eventstore.extract import Position

STATE_VERSION = 1


def state_object_key(settings: Settings) -> str:
    """Where the backfill state of ``settings.events_table`` lives."""
    return state_key(settings.s3_prefix, f"backfill-{settings.events_table}")


@dataclass
class BackfillState:
    """The committed progress of the backfill of one events table."""

    watermark: Position | None = None
    pending_objects: list[dict[str, Any]] = field(default_factory=list)
    pending_quarantine: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    updated_at: str | None = None
    version: str | None = field(default=None, compare=False)
    """The stored object's version when this state was read or last written (None: no object yet)."""

    def to_json(self) -> bytes:
        doc = {
            "version": STATE_VERSION,
            "watermark": self.watermark.as_dict() if self.watermark else None,
            "pending_objects": self.pending_objects,
            "pending_quarantine": self.pending_quarantine,
            "run_id": self.run_id,
            "updated_at": self.updated_at,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, *, key: str) -> BackfillState:
        try:
            doc = json.loads(data)
            if doc.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported state version {doc.get('version')!r}")
            return cls(
                watermark=Position.from_dict(doc.get("watermark")),
                pending_objects=list(doc.get("pending_objects") or []),
                pending_quarantine=list(doc.get("pending_quarantine") or []),
                run_id=doc.get("run_id"),
                updated_at=doc.get("updated_at"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StorageError(
                key,
                f"backfill state is unreadable ({exc}). Inspect it; to start over, delete it and run "
                "the backfill with full_refresh=True (existing objects are kept, nothing is duplicated)",
            ) from exc


def load_state(store: BronzeStore, key: str) -> BackfillState:
    """The stored state (with its version), or an empty one when the backfill never committed anything."""
    current = store.read_versioned(key)
    if current is None:
        return BackfillState()
    data, version = current
    state = BackfillState.from_json(data, key=key)
    state.version = version
    return state


def save_state(store: BronzeStore, key: str, state: BackfillState) -> None:
    """Write the state if the stored object is still the one ``state`` was read from.

    ``state.version`` moves to the new version, so a run saving after each chunk chains its own
    writes. Everything written before is made durable first (:meth:`BronzeStore.sync`): the
    backfill writes its parts without a flush each, and the state vouches for them.

    Raises:
        ConcurrentWriteError: another run wrote the state since (nothing overwritten).
    """
    store.sync()
    state.version = store.write_if_version(key, state.to_json(), state.version)
