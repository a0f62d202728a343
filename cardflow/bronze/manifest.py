"""Run manifests: the list of Bronze objects a run stands for, written last.

Shape (shared by the backfill and the real-time landing; the load consumes it)::

    {"run_id", "origin", "created_at", "objects": [{"key", "rows", "sha256", "bytes"}],
     "quarantine": [{"key", "rows", ...}], "rows": total, "watermark": {"before", "after"}, ...}

Writing it after every object it lists means a manifest never points at a missing object.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cardflow.bronze.layout import manifest_key
from cardflow.bronze.store import BronzeStore
from cardflow.contract import format_timestamp


def build_manifest(
    *,
    run_id: str,
    origin: str,
    created_at: datetime,
    objects: list[dict[str, Any]],
    quarantine: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest document; objects are listed once each, sorted by key."""
    unique = {o["key"]: o for o in objects}
    unique_q = {o["key"]: o for o in quarantine}
    return {
        "run_id": run_id,
        "origin": origin,
        "created_at": format_timestamp(created_at),
        "objects": [unique[k] for k in sorted(unique)],
        "quarantine": [unique_q[k] for k in sorted(unique_q)],
        "rows": sum(int(o["rows"]) for o in unique.values()),
        **(extra or {}),
    }


def write_manifest(store: BronzeStore, prefix: str, manifest: dict[str, Any]) -> str:
    """Write ``manifest`` at its key and return the key."""
    key = manifest_key(prefix, manifest["origin"], manifest["run_id"])
    store.write_bytes(key, json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return key
