"""Prefect tasks of the load (Bronze -> RAW.EVENTS): thin wrappers over :mod:`cardflow.warehouse.load`."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from cardflow.bronze.store import BronzeStore
from cardflow.settings import Settings
from cardflow.warehouse.base import BronzeFile, RawLoader
from cardflow.warehouse.load import (
    BronzeSelection,
    LoadSummary,
    load_files,
    reload_files,
    select_date_range,
    select_files,
)


@task(name="select_bronze_files", cache_policy=NO_CACHE)
def select_files_task(
    store: BronzeStore, settings: Settings, manifest_keys: list[str] | None, warehouse: RawLoader
) -> BronzeSelection:
    """The named manifests' files, or (no names) those of manifests after the load cursor."""
    return select_files(store, settings, manifest_keys, log=warehouse.manifest_log())


@task(name="load_bronze_files", cache_policy=NO_CACHE)
def load_files_task(warehouse: RawLoader, store: BronzeStore, selection: BronzeSelection) -> LoadSummary:
    return load_files(warehouse, store, selection)


@task(name="reload_bronze_files", cache_policy=NO_CACHE)
def reload_files_task(warehouse: RawLoader, store: BronzeStore, files: list[BronzeFile]) -> LoadSummary:
    return reload_files(warehouse, store, files)


@task(name="select_bronze_date_range", cache_policy=NO_CACHE)
def select_date_range_task(
    store: BronzeStore, settings: Settings, start: date, end: date
) -> list[BronzeFile]:
    return select_date_range(store, settings, start, end)
