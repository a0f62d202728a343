"""Run manifests: the list of Bronze objects a run stands for, written last.

Shape (shared by the backfill and the real-time landing; the load consumes it)::

    {"run_id", "origin", "created_at", "objects": [{"key", "rows", "sha256", "bytes"}],
     "quarantine": [{"key", "rows", ...}], "rows": total, "watermark": {"before", "after"}, ...}

Writing it after every object it lists means a manifest never points at a missing object. The
document is serialized with sorted keys and no whitespace, so the same run writes the same bytes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cardflow.bronze.layout import manifest_key
from cardflow.bronze.store import BronzeStore
from cardflow.contract import format_timestamp
from cardflow.errors import ManifestError, StorageError


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
    """Make the objects it lists durable (:meth:`BronzeStore.sync`), then write ``manifest`` at its
    key and return the key: a manifest never names an object a power loss could take back."""
    store.sync()
    key = manifest_key(prefix, manifest["origin"], manifest["run_id"])
    store.write_bytes(key, json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return key


def read_manifest_document(store: BronzeStore, key: str) -> dict[str, Any]:
    """The manifest at ``key`` as written by :func:`write_manifest`.

    Raises:
        ManifestError: the object is missing, not JSON, or lacks ``run_id``, ``origin`` or an
            ``objects`` list of entries with a ``key``.
    """
    try:
        document = json.loads(store.read_bytes(key))
    except StorageError as exc:
        raise ManifestError(
            key, f"not found ({exc}); check the key, or whether the run that writes it finished"
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(key, f"not valid JSON ({exc}); re-run the landing that wrote it") from exc
    if not isinstance(document, dict):
        raise ManifestError(key, f"expected a JSON object, got {type(document).__name__}")
    missing = [name for name in ("run_id", "origin", "objects") if name not in document]
    if missing:
        raise ManifestError(key, f"lacks {', '.join(missing)}; it was not written by cardflow")
    objects = document["objects"]
    if not isinstance(objects, list) or not all(isinstance(o, dict) and "key" in o for o in objects):
        raise ManifestError(key, "objects must be a list of entries with a key")
    return document
