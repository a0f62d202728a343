"""Freshness and volume verdicts on RAW.EVENTS (DuckDB) with the env thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.errors import QualityGateFailed
from cardflow.quality.raw_checks import RawChecksReport, check_freshness, check_volume, run_raw_checks
from cardflow.settings import Settings, load_settings
from tests.raw_factory import generate, insert_raw_duckdb, raw_rows

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.mark.parametrize(("age_hours", "status"), [(1, "ok"), (6.5, "warn"), (23, "warn"), (25, "error")])
def test_freshness_thresholds(settings: Settings, age_hours: float, status: str) -> None:
    outcome = check_freshness(NOW - timedelta(hours=age_hours), NOW, settings)
    assert outcome.status == status
    assert outcome.observed["age_hours"] == pytest.approx(age_hours)


def test_freshness_of_empty_raw_is_an_error(settings: Settings) -> None:
    assert check_freshness(None, NOW, settings).status == "error"


@pytest.mark.parametrize(
    ("last_day", "status"), [(100, "ok"), (70, "warn"), (49, "error"), (0, "error"), (160, "warn")]
)
def test_volume_against_lookback_mean(settings: Settings, last_day: int, status: str) -> None:
    windows = {0: last_day, **{k: 100 for k in range(1, 8)}}
    outcome = check_volume(windows, NOW, NOW - timedelta(days=30), settings)
    assert outcome.status == status, outcome.message


def test_volume_threshold_comes_from_settings(tmp_path: Path) -> None:
    strict = load_settings(data_dir=tmp_path, volume_anomaly_pct=20, volume_anomaly_lookback_days=3)
    windows = {0: 75, 1: 100, 2: 100, 3: 100, 4: 0}
    outcome = check_volume(windows, NOW, NOW - timedelta(days=30), strict)
    assert outcome.status == "error" and outcome.observed["baseline_days"] == 3


def test_volume_skipped_without_history(settings: Settings) -> None:
    assert check_volume({0: 50}, NOW, NOW - timedelta(hours=30), settings).status == "skipped"


def _fill(settings: Settings, end: datetime, keep_last_day: float = 1.0) -> None:
    events, _ = generate(events=3_000, seed=5, anomalies=False, days=10, end=end)
    cutoff = end - timedelta(days=1)
    last = [e for e in events if e["inserted_at"] >= cutoff]
    kept = [e for e in events if e["inserted_at"] < cutoff] + last[: int(len(last) * keep_last_day)]
    insert_raw_duckdb(settings.duckdb_path, raw_rows(kept))


def _check(settings: Settings, now: datetime) -> RawChecksReport:
    with resolve_backends(settings, needs={"warehouse"}).open_session() as warehouse:
        return run_raw_checks(warehouse, settings, now)


def test_clean_raw_passes(settings: Settings) -> None:
    now = datetime.now(UTC)
    _fill(settings, now - timedelta(minutes=5))
    report = _check(settings, now)
    assert report.status == "ok", report.to_markdown()
    report.raise_on_errors()


def test_stale_raw_fails_with_freshness(settings: Settings) -> None:
    now = datetime.now(UTC)
    _fill(settings, now - timedelta(days=2))
    report = _check(settings, now)
    with pytest.raises(QualityGateFailed, match="stale data") as err:
        report.raise_on_errors()
    assert err.value.gate == "raw_events"


def test_volume_drop_fails(settings: Settings) -> None:
    now = datetime.now(UTC)
    _fill(settings, now - timedelta(minutes=5), keep_last_day=0.3)
    report = _check(settings, now)
    assert [o.status for o in report.outcomes] == ["ok", "error"], report.to_markdown()
    with pytest.raises(QualityGateFailed, match="volume drop"):
        report.raise_on_errors()
