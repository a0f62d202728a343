"""Pieces of ``cardflow.reporting.report`` that need no dbt build: freshness verdicts, gate records, HTML,
and the report's bounds on a synthetic Gold in DuckDB (many more batches, SKUs and days than it draws).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cardflow.reporting import report as report_module
from cardflow.reporting.report import (
    CHART_QUERIES,
    EXAMPLE_QUERIES,
    TABLE_ROWS,
    Freshness,
    QualityStatus,
    ReportData,
    build_charts,
    collect_report_data,
    judge_freshness,
    read_quality_status,
    record_quality_status,
    render_html,
    vega_javascript,
    write_report,
)
from cardflow.settings import Settings, load_settings
from cardflow.sqlfiles import named_queries
from cardflow.warehouse.connection import DuckDBTarget

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
        "revenue_by_sport_over_time": pd.DataFrame([{
            "grain": "day", "period_start": day, "sport": "Basketball", "orders": 2, "revenue": Decimal("12.5")}]),
        "defect_rate_histogram": pd.DataFrame([{
            "sport": "Basketball", "bin": 0, "defect_pct_from": 1.2, "defect_pct_to": 1.25, "batches": 1}]),
        "supply_demand_cells": pd.DataFrame([{
            "good_bin": 7, "sold_bin": 2, "good_units_from": 64.0, "good_units_to": 128.0, "units_sold_from": 2.0,
            "units_sold_to": 4.0, "skus": 1, "oversold_skus": 0}]),
        "oversold_skus": pd.DataFrame(columns=["sku", "card_name", "is_known_sku", "units_produced",
                                               "estimated_good_units", "units_sold", "shortfall"]),
        "latest_catalog_entries": pd.DataFrame([{"sku": "BAS-1", "version_number": 1, "valid_from": day}]),
    }
    assert set(frames) == set(EXAMPLE_QUERIES) | set(CHART_QUERIES)
    return ReportData(
        frames=frames,
        freshness=Freshness(5, day, day, day, 1.0, "ok"),
        quality=QualityStatus("not run", "nothing recorded <yet>"),
        gold_counts={"fct_orders": 2},
        headline={"revenue": Decimal("12.5"), "orders": 2, "customers": 1, "first_order_ts": day,
                  "last_order_ts": day},
        warehouse="duckdb",
        generated_at=NOW,
        totals={"oversold_skus": 0},
    )


def test_charts_carry_their_data_as_plain_json() -> None:
    charts = build_charts(_data())
    assert [c.chart_id for c in charts] == [
        "revenue-over-time", "top-skus", "top-players", "defect-rate", "supply-demand"]
    specs = {c.chart_id: c.spec for c in charts}
    json.dumps(specs)  # no Decimal, Timestamp or numpy values left
    assert specs["revenue-over-time"]["data"]["values"][0]["period_start"] == "2026-10-30"
    assert specs["top-skus"]["data"]["values"][0]["revenue"] == 12.5
    assert specs["defect-rate"]["data"]["values"][0]["defect_pct_from"] == pytest.approx(1.2)
    assert [(c.rows_drawn, c.covers) for c in charts] == [
        (1, "2 orders"), (1, "the top 1 SKUs"), (1, "the top 1 players"), (1, "1 batches"), (1, "1 SKUs")]


def test_html_escapes_text_and_inlines_everything() -> None:
    html = render_html(_data())
    assert html.startswith("<!DOCTYPE html>")
    assert "nothing recorded &lt;yet&gt;" in html
    assert "Card <b>1</b>" not in html.split("const specs = ")[0]  # only inside the JSON spec
    assert "<script src" not in html and "https://cdn" not in html
    assert "$12.50" in html
    assert 'status-not-run">not run<' in html
    assert "0 SKUs sold more units" in html


# --- bounds: what the page embeds does not grow with Gold ---------------------------------------
SPORTS = ("Baseball", "Basketball", "Football", "Hockey", "Soccer")
BATCHES, SKUS, ORDERS = 30_000, 3_000, 20_000


def _synthetic_gold(path: Path, *, order_days: int) -> None:
    """A DuckDB file with RAW.EVENTS and the five Gold tables the report reads (only their columns it
    uses), far larger than any chart: BATCHES batches, SKUS SKUs (a tenth of them oversold) and
    ORDERS orders spread over ``order_days`` days."""
    sports = "[" + ", ".join(f"'{s}'" for s in SPORTS) + "]"
    with duckdb.connect(str(path)) as conn:
        conn.execute("set TimeZone = 'UTC'; create schema raw; create schema gold")
        conn.execute("""create table raw.events as select timestamptz '2026-11-01 00:00:00+00' as inserted_at,
                        timestamptz '2026-11-01 00:00:00+00' as ingested_at,
                        timestamptz '2026-11-01 00:00:00+00' as loaded_at""")
        conn.execute(f"""create table gold.dim_card as select
            printf('SKU-%05d', i) as sku, printf('Card %d', i) as card_name, {sports}[i % 5 + 1] as sport,
            printf('Player %d', i % 400) as player_name, 'Base' as parallel
            from range({SKUS}) t(i)""")
        conn.execute("""create table gold.dim_card_history as select
            sku, 1 as version_number, card_name, sport, player_name, 'Team' as team_name, parallel,
            100 as print_run, timestamptz '2024-01-01 00:00:00+00' as valid_from,
            null::timestamptz as valid_to, true as is_current from gold.dim_card""")
        conn.execute(f"""create table gold.fct_batch_performance as select
            printf('B-%06d', i) as batch_id, printf('SKU-%05d', i % {SKUS}) as sku,
            date '2026-01-01' as production_date,
            10 + i % 200 as quantity_produced,
            cast(((i * 7919) % 1000) / 50000 as decimal(38, 18)) as defect_rate_estimate,
            cast(0 as decimal(38, 18)) as estimated_defects, cast(0 as decimal(38, 18)) as estimated_good_units
            from range({BATCHES}) t(i)""")
        conn.execute(f"""create table gold.fct_orders as select
            printf('SKU-%05d', (i * 31) % {SKUS}) as sku,
            case when i % 10 = 0 then 'CANCELLED' else 'SHIPPED' end as status,
            cast(1.5 + i % 100 as decimal(38, 18)) as order_total, 1 + i % 3 as quantity, i % 5000 as customer_id,
            timestamptz '2024-01-01 00:00:00+00' + to_days(cast(i % {order_days} as integer)) as order_ts
            from range({ORDERS}) t(i)""")
        conn.execute(f"""create table gold.fct_sku_supply_demand as select
            sku, true as is_known_sku, 100 as print_run, 1 as batches_count, 0 as units_produced,
            cast(good as decimal(38, 18)) as estimated_good_units, sold as units_sold, sold > good as is_oversold
            from (select printf('SKU-%05d', i) as sku, (i * 37) % 50000 / 3 as good,
                         case when i % 10 = 0 then (i * 37) % 50000 + 5 else (i * 13) % 100 end as sold
                  from range({SKUS}) t(i))""")


def _oversold_skus(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("select count(*) from gold.fct_sku_supply_demand where is_oversold").fetchone()[0]


@pytest.fixture(scope="module")
def big_gold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big-gold") / "warehouse.duckdb"
    _synthetic_gold(path, order_days=4 * 365)
    return path


def test_report_embeds_bounded_rows_and_states_the_totals(big_gold: Path, tmp_path: Path) -> None:
    """30,000 batches, 3,000 SKUs and four years of orders: every chart draws bins or a top N (at most
    20 defect-rate bins per sport, month points, cells of powers of two), the oversold table lists
    TABLE_ROWS rows, and the page states how many batches, SKUs and oversold SKUs there are in all."""
    settings = load_settings(data_dir=tmp_path / "data", duckdb_path_override=big_gold, warehouse_choice="duckdb")
    oversold = _oversold_skus(big_gold)
    assert oversold > TABLE_ROWS

    html = write_report(settings, DuckDBTarget(big_gold)).read_text(encoding="utf-8")
    specs = json.loads(html.split("const specs = ", 1)[1].split(";\n", 1)[0])
    values = {chart_id: spec["data"]["values"] for chart_id, spec in specs.items()}

    defect = values["defect-rate"]
    assert len(defect) <= 20 * len(SPORTS)
    assert sum(v["batches"] for v in defect) == BATCHES
    assert f"all {BATCHES:,} manufacturing batches" in html
    cells = values["supply-demand"]
    assert len(cells) <= 20 * 20
    assert sum(v["skus"] for v in cells) == SKUS and sum(v["oversold_skus"] for v in cells) == oversold
    assert f"All {SKUS:,} SKUs counted" in html
    revenue = values["revenue-over-time"]
    assert len(revenue) == 48 * len(SPORTS)  # months of four years
    assert sum(v["orders"] for v in revenue) == ORDERS - ORDERS // 10  # all but the cancelled
    assert len(values["top-skus"]) == 20 and len(values["top-players"]) == 15

    oversold_table = html.split('id="oversold"', 1)[1].split("</section>", 1)[0]
    assert f"{oversold:,} SKUs sold more units" in oversold_table
    assert f"first {TABLE_ROWS} shown" in oversold_table
    assert oversold_table.count("<tr>") == 1 + TABLE_ROWS
    # one row per batch or SKU would be megabytes; the page is the Vega bundle and some 50 kB
    assert len(html.encode()) - len(vega_javascript().encode()) < 100_000


def test_capped_query_fetches_only_the_table_rows(big_gold: Path, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", duckdb_path_override=big_gold, warehouse_choice="duckdb")
    data = collect_report_data(settings, DuckDBTarget(big_gold), now=NOW)
    assert len(data.frames["oversold_skus"]) == TABLE_ROWS
    assert data.totals["oversold_skus"] == _oversold_skus(big_gold) > TABLE_ROWS
    assert set(data.frames) == set(EXAMPLE_QUERIES) | set(CHART_QUERIES)


@pytest.mark.parametrize(
    ("order_days", "grain", "periods"),
    [(1, "day", 1), (121, "day", 121), (122, "week", 18), (841, "week", 121), (842, "month", 28)],
)
def test_revenue_period_grows_with_the_span_of_the_orders(
    tmp_path: Path, order_days: int, grain: str, periods: int
) -> None:
    """Days for up to 120 days between first and last order, weeks up to 840 days, months beyond."""
    path = tmp_path / "warehouse.duckdb"
    _synthetic_gold(path, order_days=order_days)
    sql = named_queries("report.sql", report_module.__file__, raw="raw", gold="gold")
    with duckdb.connect(str(path), read_only=True) as conn:
        conn.execute("set TimeZone = 'UTC'")
        rows = conn.execute(sql["revenue_by_sport_over_time"]).fetchall()
    assert {r[0] for r in rows} == {grain}
    assert len({r[1] for r in rows}) == periods


def test_the_vega_bundle_is_built_once_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the bundle costs ~1.5 s per process: with a cache folder a later process reads it
    back, and a cached file that is not a complete bundle is rebuilt, never inlined."""
    import vl_convert

    from cardflow.reporting import charts

    charts._vega_bundle.cache_clear()
    first = charts.vega_javascript(tmp_path)
    [cached] = list(tmp_path.glob("vega-bundle-*.js"))
    charts._vega_bundle.cache_clear()  # as a new process would start

    def rebuilt(**_: object) -> str:
        raise AssertionError("the cached bundle was not used")

    with monkeypatch.context() as patched:
        patched.setattr(vl_convert, "javascript_bundle", rebuilt)
        assert charts.vega_javascript(tmp_path) == first
    charts._vega_bundle.cache_clear()
    cached.write_text("truncated", encoding="utf-8")
    assert charts.vega_javascript(tmp_path) == first and cached.read_text(encoding="utf-8") == first
    charts._vega_bundle.cache_clear()
