"""Pieces of ``cardflow.reporting.report`` that need no warehouse: freshness verdicts, gate records, HTML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from cardflow.reporting.report import (
    EXAMPLE_QUERIES,
    Freshness,
    QualityStatus,
    ReportData,
    build_charts,
    judge_freshness,
    read_quality_status,
    record_quality_status,
    render_html,
    vega_javascript,
)
from cardflow.settings import Settings, load_settings

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", raw_events_freshness_warn_hours=6,
                         raw_events_freshness_error_hours=24)


@pytest.mark.parametrize(
    ("age_hours", "status"),
    [(0.5, "ok"), (6.0, "ok"), (6.5, "warn"), (24.0, "warn"), (24.5, "error"), (None, "no data")],
)
def test_freshness_is_judged_by_the_configured_thresholds(
    settings: Settings, age_hours: float | None, status: str
) -> None:
    newest = NOW - timedelta(hours=age_hours) if age_hours is not None else None
    row = {"raw_events": 10 if newest else 0, "newest_event_inserted_at": newest,
           "newest_ingested_at": None, "newest_loaded_at": pd.NaT}
    freshness = judge_freshness(row, settings, NOW)
    assert freshness.status == status
    assert freshness.age_hours == (pytest.approx(age_hours) if age_hours is not None else None)
    assert freshness.newest_loaded_at is None


def test_naive_timestamps_count_as_utc(settings: Settings) -> None:
    row = {"raw_events": 1, "newest_event_inserted_at": datetime(2026, 11, 1, 11)}
    assert judge_freshness(row, settings, NOW).age_hours == pytest.approx(1.0)


def test_quality_status_not_run_when_nothing_is_recorded(settings: Settings) -> None:
    status = read_quality_status(settings)
    assert status.status == "not run"
    assert "no quality-gate result recorded" in status.detail


def test_recorded_quality_status_is_read_back(settings: Settings) -> None:
    gates = [{"gate": "silver", "status": "passed"}, {"gate": "gold", "status": "failed", "detail": "3 rows"}]
    path = record_quality_status(settings, "failed", "gate gold failed", gates, checked_at=NOW)
    assert path == settings.resolved_data_dir / "quality" / "latest.json"
    status = read_quality_status(settings)
    assert (status.status, status.detail, status.checked_at, status.gates) == ("failed", "gate gold failed", NOW, gates)
    record_quality_status(settings, "passed")  # the next run replaces it
    assert read_quality_status(settings).status == "passed"


def test_quality_status_unreadable_record_says_so(settings: Settings) -> None:
    path = settings.resolved_data_dir / "quality" / "latest.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    status = read_quality_status(settings)
    assert status.status == "unknown" and str(path) in status.detail


def test_vega_javascript_is_bundled_offline() -> None:
    js = vega_javascript()
    assert len(js) > 300_000
    assert "vegaEmbed" in js
    assert "</script" not in js


def _data() -> ReportData:
    day = datetime(2026, 10, 30, tzinfo=UTC)
    frames = {
        "top_skus_by_revenue": pd.DataFrame([{
            "sku": "BAS-1", "card_name": "Card <b>1</b>", "sport": "Basketball", "player_name": "A",
            "parallel": "Base", "orders": 2, "units": 3, "revenue": Decimal("12.5000")}]),
        "top_players_by_revenue": pd.DataFrame([{
            "player_name": "A", "sport": "Basketball", "skus_sold": 1, "units": 3, "revenue": Decimal("12.5")}]),
        "revenue_by_sport_by_day": pd.DataFrame([{
            "order_day": day, "sport": "Basketball", "orders": 2, "units": 3, "revenue": Decimal("12.5")}]),
        "defect_rate_by_batch": pd.DataFrame([{
            "batch_id": "B1", "sku": "BAS-1", "sport": "Basketball", "production_date": day.date(),
            "quantity_produced": 100, "defect_rate_estimate": Decimal("0.0120"),
            "estimated_defects": Decimal("1.2"), "estimated_good_units": Decimal("98.8")}]),
        "supply_vs_demand": pd.DataFrame([{
            "sku": "BAS-1", "card_name": "Card", "parallel": "Base", "print_run": 5000, "batches_count": 1,
            "units_produced": 100, "estimated_good_units": Decimal("98.8"), "units_sold": 3, "is_oversold": False}]),
        "oversold_skus": pd.DataFrame(columns=["sku", "card_name", "is_known_sku", "units_produced",
                                               "estimated_good_units", "units_sold", "shortfall"]),
        "latest_catalog_entries": pd.DataFrame([{"sku": "BAS-1", "version_number": 1, "valid_from": day}]),
    }
    assert set(frames) == set(EXAMPLE_QUERIES)
    return ReportData(
        frames=frames,
        freshness=Freshness(5, day, day, day, 1.0, "ok"),
        quality=QualityStatus("not run", "nothing recorded <yet>"),
        gold_counts={"fct_orders": 2},
        headline={"revenue": Decimal("12.5"), "orders": 2, "customers": 1, "first_order_ts": day,
                  "last_order_ts": day},
        warehouse="duckdb",
        generated_at=NOW,
    )


def test_charts_carry_their_data_as_plain_json() -> None:
    charts = build_charts(_data())
    assert [c.chart_id for c in charts] == [
        "revenue-over-time", "top-skus", "top-players", "defect-rate", "supply-demand"]
    specs = {c.chart_id: c.spec for c in charts}
    json.dumps(specs)  # no Decimal, Timestamp or numpy values left
    assert specs["revenue-over-time"]["data"]["values"][0]["order_day"] == "2026-10-30"
    assert specs["top-skus"]["data"]["values"][0]["revenue"] == 12.5
    assert specs["defect-rate"]["data"]["values"][0]["defect_pct"] == pytest.approx(1.2)


def test_html_escapes_text_and_inlines_everything() -> None:
    html = render_html(_data())
    assert html.startswith("<!DOCTYPE html>")
    assert "nothing recorded &lt;yet&gt;" in html
    assert "Card <b>1</b>" not in html.split("const specs = ")[0]  # only inside the JSON spec
    assert "<script src" not in html and "https://cdn" not in html
    assert "$12.50" in html
    assert 'status-not-run">not run<' in html
    assert "0 SKUs sold more units" in html
