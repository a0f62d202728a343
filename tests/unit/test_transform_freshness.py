"""``dbt source freshness`` measures RAW.EVENTS' newest inserted_at; the RAW checks gate on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cardflow.backends.chooser import resolve_backends
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.quality.raw_checks import run_raw_checks
from cardflow.settings import load_settings
from cardflow.transform.freshness import newest_event_at
from cardflow.warehouse.connection import DuckDBTarget
from tests.raw_factory import insert_raw_duckdb, raw_rows


def test_dbt_measures_the_newest_event_and_the_raw_checks_gate_on_it(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, raw_events_freshness_error_hours=6)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8)  # 8 h old: stale
    events = list(EventGenerator(GeneratorConfig(events=300, seed=3, days=3, end=end)))
    insert_raw_duckdb(settings.duckdb_path, raw_rows(events))
    newest = newest_event_at(settings, DuckDBTarget(settings.duckdb_path))
    assert newest == max(e["inserted_at"] for e in events)
    assert (settings.resolved_data_dir / "dbt" / "target").is_dir()  # kept for partial parsing
    with resolve_backends(settings).open_session() as warehouse:
        report = run_raw_checks(warehouse, settings, newest_event_at=newest)
    assert report.status == "error" and "stale data" in report.failures("error")[0]
