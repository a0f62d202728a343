"""Which Bronze files to load, loading them, and what a load run reports.

The load consumes manifests (written last by the backfill and the real-time landing): they list each
object's key, SHA-256 and row count, which the load verifies. Three ways to pick them:

* named manifest keys (the pipeline passes the one its backfill wrote);
* the load cursor (:mod:`cardflow.warehouse.manifest_log`, the scheduled load): only manifests
  named after the last one loaded, listed with a start-after key, so a run costs what is new and
  not the history; each handled manifest is recorded in the warehouse after its rows;
* a full scan (``sweep``; replays and repairs): every manifest, and any part object that no
  manifest lists (objects are written atomically, so a part without a manifest is complete; it is
  only missing its checksum) -- nothing in Bronze is skipped without a report.

Each ``@task`` wraps a plain function that tests call directly.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from cardflow.bronze.layout import is_part_key, join
from cardflow.bronze.store import BronzeStore
from cardflow.errors import LoadError, StorageError
from cardflow.settings import Settings
from cardflow.warehouse.base import BronzeFile, FileLoad, RawLoader
from cardflow.warehouse.manifest_log import ManifestLog, ManifestRecord, listing_start, manifest_origin

logger = logging.getLogger(__name__)

_DT = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


@dataclass
class BronzeSelection:
    """Files to load, plus manifests that could not be read (reported as failed rows)."""

    files: list[BronzeFile] = field(default_factory=list)
    problems: list[FileLoad] = field(default_factory=list)
    manifests: int = 0
    unlisted: int = 0
    #: manifest key -> the keys of the files it lists (what the load cursor records once loaded)
    manifest_files: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class LoadSummary:
    """Counts of one load (or replay) run; ``files`` holds one :class:`FileLoad` per file."""

    warehouse: str
    files: list[FileLoad]
    raw_rows: int

    @property
    def loaded(self) -> int:
        return sum(1 for f in self.files if f.status == "loaded")

    @property
    def already_loaded(self) -> int:
        return sum(1 for f in self.files if f.status == "already_loaded")

    @property
    def failed(self) -> list[FileLoad]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly counts (what the flow returns)."""
        return {
            "warehouse": self.warehouse,
            "files": len(self.files),
            "files_loaded": self.loaded,
            "files_already_loaded": self.already_loaded,
            "files_failed": len(self.failed),
            "rows_loaded": self.rows_loaded,
            "raw_rows": self.raw_rows,
            "failed": [{"file_name": f.file_name, "error": f.error} for f in self.failed],
        }


def manifests_prefix(settings: Settings) -> str:
    return join(settings.s3_prefix, "_manifests") + "/"


def read_manifest(store: BronzeStore, key: str) -> list[BronzeFile]:
    """The objects a manifest lists.

    Raises:
        LoadError: the manifest is missing, not JSON, or lacks ``objects`` entries with ``key``.
    """
    try:
        manifest = json.loads(store.read_bytes(key))
        objects = manifest["objects"]
        return [
            BronzeFile(key=o["key"], sha256=o.get("sha256"), rows=o.get("rows"), bytes=o.get("bytes"))
            for o in objects
        ]
    except StorageError as exc:
        raise LoadError(key, f"manifest not found ({exc}); check the key or that the run finished") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise LoadError(
            key, f"unreadable manifest ({type(exc).__name__}: {exc}); fix or re-write it"
        ) from exc


#: Origins whose manifest names start with the time they were written (the backfill's run start).
#: Real-time manifests are named by the batch's bus-entry time instead -- deterministic, so a
#: redelivered batch lands under the same key -- which can be hours older than the landing itself
#: (a backlog drained after an outage, producers' clocks): a start-after listing would skip them
#: for good, so those origins are listed whole and filtered by what the log recorded as loaded.
TIME_ORDERED_ORIGINS: frozenset[str] = frozenset({"backfill"})


def new_manifest_keys(store: BronzeStore, settings: Settings, log: ManifestLog) -> list[str]:
    """Manifests not yet loaded: per origin, those listed after the cursor (minus the grace window)
    and not recorded as loaded. For the backfill the listing starts at the cursor, so its cost
    follows what is new; other origins are listed whole (see :data:`TIME_ORDERED_ORIGINS`)."""
    cursors = log.cursors()
    keys: list[str] = []
    for folder in store.list_prefixes(manifests_prefix(settings)):
        origin = manifest_origin(folder)
        cursor = cursors.get(origin) if origin in TIME_ORDERED_ORIGINS else None
        start = listing_start(cursor, log.grace) if cursor else None
        keys += [k for k in store.list_keys(folder, start_after=start) if k.endswith(".json")]
    loaded = log.loaded_among(keys)
    new = [k for k in keys if k not in loaded]
    logger.info("load cursor: %d manifests listed, %d not loaded yet", len(keys), len(new))
    return new


def select_files(
    store: BronzeStore,
    settings: Settings,
    manifest_keys: Sequence[str] | None = None,
    *,
    log: ManifestLog | None = None,
) -> BronzeSelection:
    """The Bronze files a load should consider (already loaded ones are filtered by the warehouse).

    Args:
        manifest_keys: load exactly what these manifests list.
        log: with no ``manifest_keys``, select by the load cursor (manifests after the last one
            loaded). With neither: a full scan, every manifest plus any part object no manifest
            lists (replays, repairs).
    """
    selection = BronzeSelection()
    sweep = manifest_keys is None and log is None
    if manifest_keys is not None:
        keys = list(manifest_keys)
    elif log is not None:
        keys = new_manifest_keys(store, settings, log)
    else:
        keys = [k for k in store.list_keys(manifests_prefix(settings)) if k.endswith(".json")]
    listed: dict[str, BronzeFile] = {}
    for key in keys:
        try:
            files = read_manifest(store, key)
        except LoadError as exc:
            logger.warning("load: %s", exc)
            selection.problems.append(FileLoad(key, "failed", error=str(exc)))
            continue
        for file in files:
            listed.setdefault(file.key, file)
        selection.manifest_files[key] = [f.key for f in files]
        selection.manifests += 1
    selection.files = list(listed.values())
    if sweep:
        unlisted = [
            k for k in store.list_keys(join(settings.s3_prefix) + "/") if is_part_key(k) and k not in listed
        ]
        selection.files += [BronzeFile(k) for k in unlisted]
        selection.unlisted = len(unlisted)
        if unlisted:
            logger.warning(
                "load: %d part objects are in no manifest; loading them without a checksum", len(unlisted)
            )
    logger.info(
        "load: %d files from %d manifests (%d unlisted)",
        len(selection.files),
        selection.manifests,
        selection.unlisted,
    )
    return selection


def partition_date(key: str) -> date | None:
    """The ``dt=`` date of a part key, or None."""
    match = _DT.search("/" + key)
    return date.fromisoformat(match.group(1)) if match else None


def select_date_range(store: BronzeStore, settings: Settings, start: date, end: date) -> list[BronzeFile]:
    """Part objects whose ``dt`` partition lies in [start, end], with manifest checksums when known.

    Raises:
        LoadError: ``end`` is before ``start``.
    """
    if end < start:
        raise LoadError(f"{start}..{end}", "the replay range ends before it starts")
    known = {f.key: f for f in select_files(store, settings, None).files}
    keys = [
        k
        for k in store.list_keys(join(settings.s3_prefix) + "/")
        if is_part_key(k) and (d := partition_date(k)) is not None and start <= d <= end
    ]
    return [known.get(k, BronzeFile(k)) for k in keys]


def load_files(warehouse: RawLoader, store: BronzeStore, selection: BronzeSelection) -> LoadSummary:
    """Load the selected files, then record each manifest in the load cursor (``loaded`` when all its
    files are in RAW, ``failed`` otherwise, and for an unreadable manifest); manifest problems are
    kept as failed rows of the summary."""
    results = warehouse.load(selection.files, store) if selection.files else []
    outcome = {r.file_name: r for r in results}
    records = [
        ManifestRecord(
            key,
            "loaded" if all(outcome[f].status != "failed" for f in files) else "failed",
            files=len(files),
            rows=sum(outcome[f].rows_loaded for f in files),
        )
        for key, files in selection.manifest_files.items()
    ]
    records += [ManifestRecord(p.file_name, "failed") for p in selection.problems]
    if records:
        warehouse.manifest_log().record(records)
    return LoadSummary(warehouse.name, [*selection.problems, *results], warehouse.raw_row_count())


def reload_files(warehouse: RawLoader, store: BronzeStore, files: Sequence[BronzeFile]) -> LoadSummary:
    """Replace the RAW rows of ``files`` by a fresh load of the immutable Bronze objects."""
    results = warehouse.reload(files, store) if files else []
    return LoadSummary(warehouse.name, results, warehouse.raw_row_count())


def artifact_rows(summary: LoadSummary) -> list[dict[str, Any]]:
    """One row per file for the Prefect table artifact."""
    return [asdict(f) | {"error": f.error or ""} for f in summary.files]


def raise_if_failed(summary: LoadSummary, what: str = "load") -> None:
    """Raise :class:`LoadError` naming the failed files (after everything else was loaded).

    Raises:
        LoadError: at least one file failed; they stay out of the history and are retried next run.
    """
    failed = summary.failed
    if failed:
        listed = "; ".join(
            str(f.error) if str(f.error).startswith(f.file_name) else f"{f.file_name}: {f.error}"
            for f in failed[:5]
        )
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise LoadError(
            failed[0].file_name,
            f"{len(failed)} Bronze files failed to {what} ({listed}{more}); "
            f"the other {len(summary.files) - len(failed)} were handled. "
            "Fix or re-land the failed files: the next run retries them",
        )
