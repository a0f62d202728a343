"""``cardflow report`` on a dbt-built Gold layer: one offline HTML file whose charts really render.

Gold comes from the real dbt project on DuckDB (shared with the starter-query tests). The page is
opened in headless Chromium (Debian's ``chromium``) through the DevTools protocol: every chart must
have rendered an SVG with marks, the console must hold no errors, nothing may be fetched from the
network, and a full-page screenshot is taken.
"""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.cli import main
from cardflow.errors import ReportError
from cardflow.reporting.report import (
    CHART_QUERIES,
    EXAMPLE_QUERIES,
    TABLE_ROWS,
    build_charts,
    collect_report_data,
    default_report_path,
    render_html,
    write_report,
)
from cardflow.settings import Settings, load_settings
from tests.expected_examples import UNKNOWN_SPORT, GoldModel
from tests.gold_factory import GoldBuild, build_gold_duckdb, build_gold_snowflake
from tests.headless_chromium import find_chromium, visit

pytestmark = pytest.mark.integration

def _target(settings: Settings):
    """The warehouse the chooser resolves, as the CLI and the transform flow pass it."""
    return resolve_backends(settings, needs={"warehouse"}).target


CHART_IDS = ["revenue-over-time", "top-skus", "top-players", "defect-rate", "supply-demand"]


@pytest.fixture(scope="module")
def gold(tmp_path_factory: pytest.TempPathFactory) -> GoldBuild:
    return build_gold_duckdb(tmp_path_factory.mktemp("gold"))


@pytest.fixture
def settings(gold: GoldBuild, tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", duckdb_path_override=gold.duckdb_path, warehouse_choice="duckdb")


@pytest.fixture(scope="module")
def rendered(gold: GoldBuild, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """One report written to the default place (shared by the checks below)."""
    data_dir = tmp_path_factory.mktemp("report-data")
    settings = load_settings(data_dir=data_dir, duckdb_path_override=gold.duckdb_path, warehouse_choice="duckdb")
    return settings, write_report(settings, _target(settings))


def test_report_goes_to_the_data_dir(rendered: tuple[Settings, Path]) -> None:
    settings, path = rendered
    assert path == settings.resolved_data_dir / "report" / "index.html" == default_report_path(settings)
    assert path.stat().st_size > 100_000  # the inlined Vega bundle alone is several hundred kB
    assert not path.with_name("index.html.partial").exists()


def test_report_is_self_contained(rendered: tuple[Settings, Path]) -> None:
    html = rendered[1].read_text(encoding="utf-8")
    assert "<script src" not in html.lower()
    assert "<link" not in html.lower()
    assert "cdn.jsdelivr" not in html
    assert "vegaEmbed" in html
    for chart_id in CHART_IDS:
        assert f'id="chart-{chart_id}"' in html


def test_report_shows_what_gold_holds(rendered: tuple[Settings, Path], gold: GoldBuild) -> None:
    """Numbers on the page equal an independent computation from the generated events."""
    html = rendered[1].read_text(encoding="utf-8")
    model = GoldModel(gold.events)
    revenue = sum((o.order_total for o in model.sold), Decimal(0))
    assert f"${revenue:,.2f}" in html
    assert f"{len(model.sold):,}" in html
    top_sku = model.top_skus_by_revenue()[0][0]
    top_player = model.top_players_by_revenue()[0][0]
    specs = json.loads(html.split("const specs = ", 1)[1].split(";\n", 1)[0])
    top_skus = specs["top-skus"]["data"]["values"]
    assert top_skus[0]["sku"] == top_sku
    assert float(top_skus[0]["revenue"]) == pytest.approx(float(model.top_skus_by_revenue()[0][7]))
    assert specs["top-players"]["data"]["values"][0]["player_name"] == top_player
    revenue_points = specs["revenue-over-time"]["data"]["values"]
    assert sum(p["revenue"] for p in revenue_points) == pytest.approx(float(revenue))
    # the defect-rate chart draws histogram bins, not batches: every batch counted once, per sport
    bins = specs["defect-rate"]["data"]["values"]
    sports = {model.card(b.sku, "sport") or UNKNOWN_SPORT for b in model.batches}
    assert len(bins) <= 20 * len(sports) < len(model.batches)
    for sport in sports:
        batches = sum(1 for b in model.batches if (model.card(b.sku, "sport") or UNKNOWN_SPORT) == sport)
        assert sum(v["batches"] for v in bins if v["sport"] == sport) == batches
    assert f"all {len(model.batches):,} manufacturing batches" in html
    # supply vs demand draws cells of SKUs, oversold SKUs counted in them
    cells = specs["supply-demand"]["data"]["values"]
    supply = model.supply_vs_demand()
    oversold = model.oversold_skus()
    assert len(cells) < len(supply)
    assert sum(c["skus"] for c in cells) == len(supply)
    assert sum(c["oversold_skus"] for c in cells) == len(oversold)
    for cell in cells:  # each SKU in the cell of its powers of two
        assert cell["good_units_from"] < cell["good_units_to"] and cell["units_sold_from"] < cell["units_sold_to"]
    assert f"{len(oversold):,} SKUs sold more units" in html
    assert oversold[0][0] in html
    oversold_table = html.split('id="oversold"', 1)[1].split("</section>", 1)[0]
    assert oversold_table.count("<tr>") == 1 + min(len(oversold), TABLE_ROWS)
    # freshness from RAW and an honest gate status (nothing recorded in this data dir)
    assert "RAW freshness" in html
    assert 'status-not-run">not run<' in html


def test_collected_frames_cover_every_report_query(settings: Settings, gold: GoldBuild) -> None:
    newest = max(e["inserted_at"] for e in gold.events)
    data = collect_report_data(settings, _target(settings), now=newest + timedelta(hours=2))
    assert set(data.frames) == set(EXAMPLE_QUERIES) | set(CHART_QUERIES)
    assert all(len(frame) for frame in data.frames.values())
    assert data.totals["oversold_skus"] == len(GoldModel(gold.events).oversold_skus())
    assert len(data.frames["oversold_skus"]) == min(data.totals["oversold_skus"], TABLE_ROWS)
    assert data.freshness.newest_event_inserted_at == newest
    assert data.freshness.age_hours == pytest.approx(2.0)
    assert data.freshness.status == "ok"
    assert data.freshness.raw_events == len(gold.events)
    model = GoldModel(gold.events)
    assert data.gold_counts["fct_orders"] == len(model.orders)
    assert data.gold_counts["dim_card"] == len(model.cards)
    assert data.gold_counts["fct_batch_performance"] == len(model.batches)
    assert [c.chart_id for c in build_charts(data)] == CHART_IDS

    stale = collect_report_data(
        settings, _target(settings), now=newest + timedelta(hours=settings.raw_events_freshness_error_hours + 1)
    )
    assert stale.freshness.status == "error"


def test_quality_status_is_read_from_the_recorded_result(settings: Settings) -> None:
    record = settings.resolved_data_dir / "quality" / "latest.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({
        "status": "failed", "checked_at": "2026-11-01T05:00:00Z", "detail": "1 of 3 gates failed",
        "gates": [{"gate": "silver", "status": "passed"}, {"gate": "gold", "status": "failed",
                                                             "detail": "fct_orders.quantity < 0 in 3 rows"}],
    }))
    html = write_report(settings, _target(settings)).read_text(encoding="utf-8")
    assert 'status-failed">failed<' in html
    assert "1 of 3 gates failed" in html
    assert "fct_orders.quantity &lt; 0 in 3 rows" in html  # escaped, never raw HTML from a record


def test_cli_writes_the_report_and_prints_its_path(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("CARDFLOW_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CARDFLOW_DUCKDB_PATH", str(settings.duckdb_path))
    monkeypatch.setenv("CARDFLOW_WAREHOUSE", "duckdb")
    out = tmp_path / "elsewhere" / "gold.html"
    assert main(["report", "--output", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_reads_gold_on_the_snowflake_target(
    gold: GoldBuild, fakesnow_port: int, tmp_path: Path
) -> None:
    """Same data, same page contents, when the warehouse is Snowflake (fakesnow server)."""
    database = "CARDFLOW_REPORT"
    build_gold_snowflake(gold, fakesnow_port, database, tmp_path)
    settings = load_settings(
        data_dir=tmp_path / "data", warehouse_choice="snowflake", snowflake_account="fakesnow",
        snowflake_user="fake", snowflake_password="fake", snowflake_database=database,
        snowflake_host="localhost", snowflake_port=fakesnow_port, snowflake_protocol="http",
    )
    newest = max(e["inserted_at"] for e in gold.events)
    data = collect_report_data(settings, _target(settings), now=newest + timedelta(hours=1))
    model = GoldModel(gold.events)
    assert data.warehouse == "snowflake"
    assert data.freshness.raw_events == len(gold.events)
    assert data.freshness.newest_event_inserted_at == newest
    assert data.gold_counts["fct_orders"] == len(model.orders)
    assert list(data.frames["top_skus_by_revenue"]["sku"]) == [r[0] for r in model.top_skus_by_revenue()]
    # the report's own aggregates give the same counts on Snowflake
    assert data.frames["defect_rate_histogram"]["batches"].sum() == len(model.batches)
    assert data.frames["supply_demand_cells"]["skus"].sum() == len(model.supply_vs_demand())
    assert data.frames["supply_demand_cells"]["oversold_skus"].sum() == len(model.oversold_skus())
    assert data.totals["oversold_skus"] == len(model.oversold_skus())
    assert set(data.frames["revenue_by_sport_over_time"]["grain"]) == {"day"}  # the build spans 14 days
    assert data.frames["revenue_by_sport_over_time"]["orders"].sum() == len(model.sold)
    html = render_html(data)
    assert 'id="chart-supply-demand"' in html and "from the snowflake warehouse" in html


def test_missing_warehouse_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(data_dir=tmp_path / "empty", warehouse_choice="duckdb")
    with pytest.raises(ReportError, match="does not exist yet; run `cardflow demo`"):
        write_report(settings, _target(settings))


def test_publish_task_links_the_report_as_an_artifact(settings: Settings) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client

    from tasks.report import REPORT_ARTIFACT_KEY, publish_report

    @flow
    def report_flow() -> str:
        return publish_report(settings=settings)

    uri = report_flow()
    assert uri == (settings.resolved_data_dir / "report" / "index.html").as_uri()

    async def linked_uris() -> list[str]:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[REPORT_ARTIFACT_KEY]))
            )
        return [str(artifact.data) for artifact in found]

    # other flows of the session (the transform flow) link their own reports under the same key:
    # this run's link, to this test's unique file, must be among them
    assert any(uri in data for data in asyncio.run(linked_uris()))


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG"
    return struct.unpack(">II", header[16:24])


PROBE = """
JSON.stringify(Array.from(document.querySelectorAll('div.chart')).map(function (el) {
  var svg = el.querySelector('svg');
  var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {
    id: el.dataset.chart,
    rendered: el.getAttribute('data-rendered'),
    svg: !!svg,
    width: box.width,
    height: box.height,
    // data marks only (Vega tags axes and legends with other roles)
    marks: svg ? svg.querySelectorAll('g.role-mark > path, g.role-mark > line, g.role-mark > rect').length : 0,
    canvas: el.querySelectorAll('canvas').length,
    text: svg ? svg.querySelectorAll('text').length : 0
  };
}))
"""


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_every_chart_in_headless_chromium(
    rendered: tuple[Settings, Path], gold: GoldBuild, tmp_path: Path
) -> None:
    model = GoldModel(gold.events)
    html = rendered[1].read_text(encoding="utf-8")
    specs = json.loads(html.split("const specs = ", 1)[1].split(";\n", 1)[0])
    expected_marks = {  # one data mark per series / bar / bin / cell
        "revenue-over-time": len({r[1] for r in model.revenue_by_sport_by_day()}),
        "top-skus": len(model.top_skus_by_revenue()),
        "top-players": len(model.top_players_by_revenue()),
        "defect-rate": len(specs["defect-rate"]["data"]["values"]),
        "supply-demand": len(specs["supply-demand"]["data"]["values"]),
    }
    screenshot = tmp_path / "report.png"
    result = visit(
        rendered[1],
        ready_expression="document.body && document.body.getAttribute('data-charts-done') === 'true'",
        probe_expression=PROBE,
        screenshot=screenshot,
        profile=tmp_path / "chromium-profile",
    )
    charts = json.loads(result.probe)
    assert [c["id"] for c in charts] == CHART_IDS
    for chart in charts:
        assert chart["rendered"] == "true", chart
        assert chart["svg"] and chart["width"] > 100 and chart["height"] > 50, chart
        assert chart["marks"] == expected_marks.get(chart["id"], chart["marks"]) and chart["marks"] > 0, chart
        assert chart["text"] > 0, chart  # axes and legends drew labels
    assert not result.console_errors, result.console_errors
    assert not result.exceptions, result.exceptions
    remote = [u for u in result.requests if not u.startswith(("file:", "data:", "about:", "blob:"))]
    assert not remote, f"the report fetched from the network: {remote}"
    width, height = _png_size(screenshot)
    assert width >= 1400 and height >= 2000
    assert screenshot.stat().st_size > 50_000  # a blank page compresses to a few kB


def test_with_s3_the_report_artifact_links_the_object_in_the_bucket(
    gold: GoldBuild, s3_settings: Settings
) -> None:
    """S3 configured: the report is uploaded to the Bronze bucket and the artifact's link is a URL
    that opens it from anywhere (presigned), not a path on the worker's disk."""
    import httpx
    from prefect import flow

    from tasks.report import publish_report

    settings = s3_settings.model_copy(
        update={"duckdb_path_override": gold.duckdb_path, "warehouse_choice": "duckdb"}
    )

    @flow
    def report_flow() -> str:
        return publish_report(settings=settings)

    url = report_flow()
    assert url.startswith(f"{settings.s3_endpoint_url}/{settings.s3_bucket}/_site/report/index.html?")
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.content == (settings.resolved_data_dir / "report" / "index.html").read_bytes()
