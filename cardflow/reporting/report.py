"""The Gold layer at a glance: one self-contained HTML file with charts, freshness and gate status.

``write_report(settings)`` reads Gold (DuckDB file or Snowflake) with some of the analysts' starter
queries (``sql/examples.sql``) plus aggregates of its own (``report.sql`` beside this module), draws
Altair charts and writes ``<CARDFLOW_DATA_DIR>/report/index.html``. The file works offline: the
Vega, Vega-Lite and vega-embed JavaScript comes inlined from the ``vl-convert-python`` wheel (no
CDN), charts render as SVG in the browser, and every chart's data is embedded in the page.

The transform flow writes the report on every run, so what it embeds must not grow with history:
charts draw binned aggregates computed in the warehouse (a histogram of batch defect rates, cells
of SKUs by supply and demand, revenue per day, week or month), and tables list at most
:data:`TABLE_ROWS` rows with the total stated. Per-row detail stays in the starter queries.

Freshness is read from RAW.EVENTS (newest event, landing and load) against the
RAW_EVENTS_FRESHNESS_* thresholds. Quality-gate status comes from what the quality gates record
(:func:`read_quality_status`); when nothing is recorded the report says "not run" rather than
guess.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from cardflow.errors import ReportError
from cardflow.settings import Settings
from cardflow.sqlfiles import named_queries
from cardflow.warehouse.connection import WarehouseTarget, open_session

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
VEGA_BUNDLE_MARK = "vegaEmbed"
"""A name every complete vega-embed bundle defines (a cached bundle without it is rebuilt)."""
FreshnessStatus = Literal["ok", "warn", "error", "no data"]

#: starter queries (sql/examples.sql) the report shows, by key; each returns at most 20 rows (a
#: LIMIT) except those in CAPPED_EXAMPLES
EXAMPLE_QUERIES = (
    "top_skus_by_revenue",
    "top_players_by_revenue",
    "oversold_skus",
    "latest_catalog_entries",
)
#: starter queries with one row per SKU (no LIMIT): the report fetches their first TABLE_ROWS rows
#: and counts all of them in the warehouse
CAPPED_EXAMPLES = ("oversold_skus",)
#: the report's own aggregates (report.sql) behind its charts: their row counts are bounded by bins
CHART_QUERIES = ("revenue_by_sport_over_time", "defect_rate_histogram", "supply_demand_cells")
#: rows a table of the page lists at most (the total is stated beside it)
TABLE_ROWS = 10


class Query(Protocol):
    """``query(sql, limit=None) -> DataFrame``: the rows of ``sql``, only the first ``limit`` if given."""

    def __call__(self, sql: str, limit: int | None = None) -> pd.DataFrame: ...


# --- reading the warehouse ---------------------------------------------------------------------
def _frame_from_cursor(cursor: Any, limit: int | None = None) -> pd.DataFrame:
    import pandas as pd

    names = [str(d[0]).lower() for d in cursor.description]
    rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
    return pd.DataFrame.from_records(rows, columns=names)


@contextmanager
def open_gold(target: WarehouseTarget) -> Iterator[Query]:
    """A :class:`Query` (lower-case columns) on the warehouse at ``target``, in UTC.

    DuckDB is opened read-only (the report never writes the warehouse); days are UTC days on both
    warehouses because the session time zone is set to UTC. Snowflake is reached with the same
    :class:`~cardflow.warehouse.snowflake.SnowflakeParams` as every other step.

    Raises:
        ReportError: the DuckDB file does not exist yet (run the pipeline or ``cardflow demo`` first).
    """
    with open_session(target, read_only=True, query_tag="cardflow-report") as session:

        def query(sql: str, limit: int | None = None) -> pd.DataFrame:
            # rows as the driver returns them (Decimal stays Decimal; DuckDB's .df() would give floats)
            if session.dialect == "duckdb":
                return _frame_from_cursor(session.conn.execute(sql), limit)
            cur = session.conn.cursor()
            try:
                cur.execute(sql)
                return _frame_from_cursor(cur, limit)
            finally:
                cur.close()

        yield query


def example_queries(settings: Settings) -> dict[str, str]:
    """The analysts' starter queries (``sql/examples.sql``) for the configured schemas."""
    return named_queries("examples.sql", gold=settings.snowflake_gold_schema)


def _report_queries(settings: Settings) -> dict[str, str]:
    return named_queries("report.sql", __file__, raw=settings.snowflake_raw_schema, gold=settings.snowflake_gold_schema)


# --- what the report shows ---------------------------------------------------------------------
@dataclass(frozen=True)
class Freshness:
    """How current RAW.EVENTS is, judged against the RAW_EVENTS_FRESHNESS_* thresholds."""

    raw_events: int
    newest_event_inserted_at: datetime | None
    newest_ingested_at: datetime | None
    newest_loaded_at: datetime | None
    age_hours: float | None
    status: FreshnessStatus


@dataclass(frozen=True)
class QualityStatus:
    """The latest quality-gate verdict, or ``not run`` when nothing is recorded."""

    status: str
    detail: str
    checked_at: datetime | None = None
    gates: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    """Everything the page shows; built by :func:`collect_report_data`, rendered by :func:`render_html`.

    ``frames`` holds the rows of each query in :data:`EXAMPLE_QUERIES` and :data:`CHART_QUERIES`
    (those of :data:`CAPPED_EXAMPLES` cut at :data:`TABLE_ROWS`); ``totals`` how many rows each
    capped query has in all.
    """

    frames: dict[str, pd.DataFrame]
    freshness: Freshness
    quality: QualityStatus
    gold_counts: dict[str, int]
    headline: dict[str, Any]
    warehouse: str
    generated_at: datetime
    totals: dict[str, int] = field(default_factory=dict)


def _missing(value: Any) -> bool:
    """None, NaN, NaT or pandas NA (NaT is a datetime instance, so test it before any isinstance)."""
    import pandas as pd

    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other non-scalars
        return False


def _utc(value: Any) -> datetime | None:
    import pandas as pd

    if _missing(value):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
    return ts.to_pydatetime()


def judge_freshness(row: dict[str, Any], settings: Settings, now: datetime) -> Freshness:
    """Freshness of RAW from its ``raw_freshness`` row: age of the newest event's ``inserted_at``."""
    newest = _utc(row.get("newest_event_inserted_at"))
    age = (now - newest).total_seconds() / 3600 if newest else None
    status: FreshnessStatus
    if age is None:
        status = "no data"
    elif age > settings.raw_events_freshness_error_hours:
        status = "error"
    elif age > settings.raw_events_freshness_warn_hours:
        status = "warn"
    else:
        status = "ok"
    return Freshness(
        raw_events=int(row.get("raw_events") or 0),
        newest_event_inserted_at=newest,
        newest_ingested_at=_utc(row.get("newest_ingested_at")),
        newest_loaded_at=_utc(row.get("newest_loaded_at")),
        age_hours=age,
        status=status,
    )


def read_quality_status(settings: Settings) -> QualityStatus:
    """The latest quality-gate run as recorded by :func:`record_quality_status`.

    The gated transform records its verdict (status, checked_at and one entry per gate) at the end
    of every run. Nothing recorded means the gates have not run on this data directory: the report
    says so instead of implying they passed.
    """
    path = quality_record_path(settings)
    if not path.exists():
        return QualityStatus("not run", f"no quality-gate result recorded at {path}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return QualityStatus("unknown", f"quality-gate record {path} is unreadable: {exc}")
    return QualityStatus(
        status=str(record.get("status", "unknown")),
        detail=str(record.get("detail") or record.get("message") or ""),
        checked_at=_utc(record.get("checked_at")),
        gates=list(record.get("gates") or []),
        warnings=[str(w) for w in record.get("warnings") or []],
    )


def quality_record_path(settings: Settings) -> Path:
    """Where the latest quality-gate verdict is recorded: ``<CARDFLOW_DATA_DIR>/quality/latest.json``."""
    return settings.resolved_data_dir / "quality" / "latest.json"


def record_quality_status(
    settings: Settings, status: str, detail: str = "", gates: list[dict[str, Any]] | None = None,
    *, checked_at: datetime | None = None, warnings: list[str] | None = None,
) -> Path:
    """Record the verdict of a gated transform for the report (overwrites the previous record).

    The transform flow calls this once per run: ``status`` ``passed``, ``passed with warnings`` or
    ``failed``, ``gates`` one ``{"gate", "status", "detail"}`` entry per gate, ``warnings`` one line
    per warning of the run (:mod:`cardflow.quality.warnings`). Written atomically, so a report
    rendered at the same time reads the old or the new record, never half of one.
    """
    path = quality_record_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "status": status,
        "detail": detail,
        "checked_at": (checked_at or datetime.now(UTC)).isoformat(),
        "gates": gates or [],
        "warnings": warnings or [],
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    partial.replace(path)
    logger.info("quality status recorded: %s (%d gates) at %s", status, len(record["gates"]), path)
    return path


def collect_report_data(settings: Settings, target: WarehouseTarget, *, now: datetime | None = None) -> ReportData:
    """Run the report's queries on Gold and RAW of the warehouse at ``target`` (from the chooser).

    Raises:
        ReportError: Gold is missing (dbt has not built it yet) or a query failed.
    """
    now = now or datetime.now(UTC)
    examples = example_queries(settings)
    own = _report_queries(settings)
    frames: dict[str, pd.DataFrame] = {}
    totals: dict[str, int] = {}
    with open_gold(target) as query:
        for key in EXAMPLE_QUERIES:
            if key in CAPPED_EXAMPLES:
                frames[key] = _run(query, key, examples[key], limit=TABLE_ROWS)
                totals[key] = int(_run(query, key, _count_sql(examples[key])).iloc[0, 0])
            else:
                frames[key] = _run(query, key, examples[key])
        for key in CHART_QUERIES:
            frames[key] = _run(query, key, own[key])
        freshness_row = _run(query, "raw_freshness", own["raw_freshness"]).iloc[0].to_dict()
        counts = _run(query, "gold_counts", own["gold_counts"])
        headline = _run(query, "headline", own["headline"]).iloc[0].to_dict()
    gold_counts = {str(r.gold_table): int(r.row_count) for r in counts.itertuples()}
    logger.info(
        "report data: %s",
        ", ".join(f"{k}={len(v)}" + (f" of {totals[k]}" if k in totals else "") + " rows" for k, v in frames.items()),
    )
    return ReportData(
        frames=frames,
        freshness=judge_freshness(freshness_row, settings, now),
        quality=read_quality_status(settings),
        gold_counts=gold_counts,
        headline=headline,
        warehouse=target.dialect,
        generated_at=now,
        totals=totals,
    )


def _count_sql(sql: str) -> str:
    """How many rows ``sql`` returns, counted in the warehouse (plain SQL for DuckDB and Snowflake)."""
    return f"select count(*) as total_rows from (\n{sql}\n) as counted"


def _run(query: Query, key: str, sql: str, *, limit: int | None = None) -> pd.DataFrame:
    try:
        return query(sql, limit)
    except Exception as exc:  # the drivers raise their own error classes; name the query
        raise ReportError(
            key, f"query failed ({type(exc).__name__}: {exc}); has dbt built Gold? run the transform flow first"
        ) from exc


# --- charts --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportChart:
    """One chart of the page: an id for its element, a title, a sentence, and the Vega-Lite spec.

    ``rows_drawn`` is how many data rows the spec embeds; ``covers`` says what they stand for
    (``"50,225 batches"``, ``"the top 20 SKUs"``).
    """

    chart_id: str
    title: str
    description: str
    spec: dict[str, Any]
    rows_drawn: int = 0
    covers: str = ""


def _numeric(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Decimals (exact in Gold) as floats for plotting; JSON has no decimal type."""
    out = frame.copy()
    for column in columns:
        out[column] = [float(v) if isinstance(v, Decimal) else v for v in out[column]]
        out[column] = out[column].astype("float64")
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: timestamps as ISO strings, dates as YYYY-MM-DD, numpy scalars as Python."""
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def _powers_of_ten(upto: float) -> list[int]:
    """Axis ticks for a symlog scale: 0, 1, 10, 100, ... up to ``upto``."""
    ticks, tick = [0], 1
    while tick <= upto:
        ticks.append(tick)
        tick *= 10
    return ticks


_GRAIN_WORDS = {"day": ("Daily", "day (UTC)"), "week": ("Weekly", "week from Monday (UTC)"),
                "month": ("Monthly", "month (UTC)")}


def build_charts(data: ReportData) -> list[ReportChart]:
    """The report's Altair charts as Vega-Lite specs (data inlined, SVG-friendly).

    Each chart embeds the rows of one bounded query: binned aggregates or a top-N list, never one
    row per batch, SKU or order.
    """
    import altair as alt

    f = data.frames
    charts: list[ReportChart] = []

    def add(chart_id: str, title: str, text: str, chart: alt.TopLevelMixin, rows: int, covers: str) -> None:
        charts.append(ReportChart(chart_id, title, text, chart.to_dict(), rows, covers))

    revenue = _numeric(f["revenue_by_sport_over_time"], "revenue")
    grain = str(revenue["grain"].iloc[0]) if len(revenue) else "day"
    adjective, axis_title = _GRAIN_WORDS.get(grain, _GRAIN_WORDS["day"])
    revenue["period_start"] = revenue["period_start"].map(lambda v: _utc(v).strftime("%Y-%m-%d"))
    orders = int(revenue["orders"].sum())
    add(
        "revenue-over-time", "Revenue over time",
        f"{adjective} revenue of orders not cancelled, stacked by sport ({orders:,} orders; days when the "
        "orders span at most 120 days, weeks up to 840 days, months beyond).",
        alt.Chart(alt.Data(values=_records(revenue[["period_start", "sport", "revenue", "orders"]])))
        .mark_area()
        .encode(
            x=alt.X("period_start:T", title=axis_title),
            y=alt.Y("sum(revenue):Q", title="revenue ($)", stack="zero"),
            color=alt.Color("sport:N"),
            tooltip=[alt.Tooltip("period_start:T", title=grain), "sport:N",
                     alt.Tooltip("sum(revenue):Q", format=",.2f"), "sum(orders):Q"],
        )
        .properties(width=900, height=280),
        len(revenue), f"{orders:,} orders",
    )

    skus = _numeric(f["top_skus_by_revenue"], "revenue")
    skus["label"] = skus["sku"] + " · " + skus["player_name"].fillna("(unknown sku)")
    add(
        "top-skus", "Top SKUs by revenue", "The 20 cards that earned the most.",
        alt.Chart(alt.Data(values=_records(skus[["label", "sku", "card_name", "sport", "revenue", "units"]])))
        .mark_bar()
        .encode(
            x=alt.X("revenue:Q", title="revenue ($)"),
            y=alt.Y("label:N", sort="-x", title=None),
            color=alt.Color("sport:N"),
            tooltip=["sku:N", "card_name:N", alt.Tooltip("revenue:Q", format=",.2f"), "units:Q"],
        )
        .properties(width=700, height=alt.Step(18)),
        len(skus), f"the top {len(skus)} SKUs",
    )

    players = _numeric(f["top_players_by_revenue"], "revenue")
    add(
        "top-players", "Top players by revenue", "The 15 players whose cards earned the most.",
        alt.Chart(alt.Data(values=_records(players[["player_name", "sport", "revenue", "units", "skus_sold"]])))
        .mark_bar()
        .encode(
            x=alt.X("revenue:Q", title="revenue ($)"),
            y=alt.Y("player_name:N", sort="-x", title=None),
            color=alt.Color("sport:N"),
            tooltip=["player_name:N", "sport:N", alt.Tooltip("revenue:Q", format=",.2f"), "units:Q", "skus_sold:Q"],
        )
        .properties(width=700, height=alt.Step(18)),
        len(players), f"the top {len(players)} players",
    )

    bins = _numeric(f["defect_rate_histogram"], "defect_pct_from", "defect_pct_to")
    batches = int(bins["batches"].sum())
    add(
        "defect-rate", "Defect rate by batch and sport",
        f"How the estimated defect rate of all {batches:,} manufacturing batches is distributed: batches "
        "per bin of equal width between the lowest and highest rate, stacked by sport. One row per batch: "
        "starter query defect_rate_by_batch.",
        alt.Chart(alt.Data(values=_records(bins[["sport", "defect_pct_from", "defect_pct_to", "batches"]])))
        .mark_bar()
        .encode(
            x=alt.X("defect_pct_from:Q", bin="binned", title="estimated defect rate (%)"),
            x2="defect_pct_to:Q",
            y=alt.Y("batches:Q", title="batches", stack="zero"),
            color=alt.Color("sport:N"),
            tooltip=["sport:N", alt.Tooltip("defect_pct_from:Q", title="from (%)", format=".3f"),
                     alt.Tooltip("defect_pct_to:Q", title="to (%)", format=".3f"), "batches:Q"],
        )
        .properties(width=700, height=280),
        len(bins), f"{batches:,} batches",
    )

    cells = _numeric(f["supply_demand_cells"], "good_units_from", "good_units_to", "units_sold_from", "units_sold_to")
    sku_count = int(cells["skus"].sum())
    ticks = _powers_of_ten(max(cells["good_units_to"].max(), cells["units_sold_to"].max()) if len(cells) else 1)
    oversold = int(cells["oversold_skus"].sum())
    add(
        "supply-demand", "Supply vs demand per SKU",
        f"All {sku_count:,} SKUs counted by estimated good units produced and units sold, both in powers of two "
        f"(symlog axes); cells outlined red hold some of the {oversold:,} oversold SKUs (listed below). "
        "One row per SKU: starter query supply_vs_demand.",
        alt.Chart(alt.Data(values=_records(cells[[
            "good_units_from", "good_units_to", "units_sold_from", "units_sold_to", "skus", "oversold_skus"
        ]])))
        .mark_rect(strokeWidth=2)
        .encode(
            x=alt.X("good_units_from:Q", title="estimated good units", scale=alt.Scale(type="symlog"),
                    axis=alt.Axis(values=ticks, format=",.0f")),
            x2="good_units_to:Q",
            y=alt.Y("units_sold_from:Q", title="units sold", scale=alt.Scale(type="symlog"),
                    axis=alt.Axis(values=ticks, format=",.0f")),
            y2="units_sold_to:Q",
            color=alt.Color("skus:Q", title="SKUs", scale=alt.Scale(type="log", scheme="blues")),
            stroke=alt.condition("datum.oversold_skus > 0", alt.value("#e45756"), alt.value("transparent")),
            tooltip=[
                alt.Tooltip("good_units_from:Q", title="good units from", format=",.0f"),
                alt.Tooltip("good_units_to:Q", title="good units below", format=",.0f"),
                alt.Tooltip("units_sold_from:Q", title="units sold from", format=",.0f"),
                alt.Tooltip("units_sold_to:Q", title="units sold below", format=",.0f"),
                "skus:Q", "oversold_skus:Q",
            ],
        )
        .properties(width=700, height=360),
        len(cells), f"{sku_count:,} SKUs",
    )

    return charts


# --- HTML ----------------------------------------------------------------------------------------
def vega_javascript(cache_dir: Path | None = None) -> str:
    """vega + vega-lite + vega-embed as one script, from the vl-convert-python wheel (offline).

    The Vega-Lite version matches the one Altair writes specs for. Building the bundle costs about
    1.5 s in every new process (each transform flow run writes the report), so with ``cache_dir``
    it is kept there in a file named by the vl-convert and Vega-Lite versions and read back.
    """
    return _vega_bundle(cache_dir.expanduser().resolve() if cache_dir else None)


@cache
def _vega_bundle(cache_dir: Path | None) -> str:
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    version = vl_version_for_vl_convert()
    cached = cache_dir / f"vega-bundle-{vl_convert.__version__}-{version}.js" if cache_dir else None
    if cached is not None and cached.is_file():
        text = cached.read_text(encoding="utf-8")
        if VEGA_BUNDLE_MARK in text:
            return text
        logger.warning("ignoring the unreadable cached Vega bundle %s", cached)
    bundle = vl_convert.javascript_bundle(vl_version=version).replace("</script", "<\\/script")
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + ".partial")
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(cached)
    return bundle


def _script_json(value: Any) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value, separators=(",", ":"), default=str).replace("</", "<\\/")


def _table(frame: pd.DataFrame, total: int | None = None, limit: int = TABLE_ROWS) -> dict[str, Any]:
    """At most ``limit`` rows of ``frame`` as text cells; ``total`` is how many exist (default: all shown)."""
    shown = frame.head(limit)
    return {
        "columns": list(shown.columns),
        "rows": [[_cell(v) for v in row] for row in shown.itertuples(index=False)],
        "total": len(frame) if total is None else total,
    }


def _cell(value: Any) -> str:
    import pandas as pd

    if _missing(value):
        return ""
    if isinstance(value, datetime | pd.Timestamp):
        return _utc(value).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def render_html(data: ReportData, charts: list[ReportChart] | None = None, vega_js: str | None = None) -> str:
    """The whole page as one HTML string (scripts, styles, data and specs inlined)."""
    import jinja2

    charts = build_charts(data) if charts is None else charts
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )
    headline = data.headline
    return env.get_template("report.html.j2").render(
        generated_at=data.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        warehouse=data.warehouse,
        revenue=_cell(headline.get("revenue") or Decimal(0)),
        orders=int(headline.get("orders") or 0),
        customers=int(headline.get("customers") or 0),
        first_order=_cell(headline.get("first_order_ts")),
        last_order=_cell(headline.get("last_order_ts")),
        freshness=data.freshness,
        freshness_age=f"{data.freshness.age_hours:,.1f} h" if data.freshness.age_hours is not None else "-",
        fmt_ts=lambda v: _cell(v) or "-",
        quality=data.quality,
        gold_counts=data.gold_counts,
        charts=charts,
        specs_json=_script_json({c.chart_id: c.spec for c in charts}),
        oversold=_table(data.frames["oversold_skus"], data.totals.get("oversold_skus")),
        latest_catalog=_table(data.frames["latest_catalog_entries"]),
        vega_js=vega_javascript() if vega_js is None else vega_js,
    )


def default_report_path(settings: Settings) -> Path:
    """Where the report goes unless told otherwise: ``<CARDFLOW_DATA_DIR>/report/index.html``."""
    return settings.resolved_data_dir / "report" / "index.html"


def write_report(settings: Settings, target: WarehouseTarget, output: Path | None = None) -> Path:
    """Render the report from Gold and write it (atomically); returns the file's absolute path.

    ``target`` is the warehouse the backend chooser resolved (``resolve_backends(settings).target``).

    Called at the end of ``cardflow demo`` and by the transform flow (which links it as an
    artifact). Re-running overwrites the same file.

    Raises:
        ReportError: Gold is not there yet or a query failed.
    """
    path = (output or default_report_path(settings)).expanduser().resolve()
    data = collect_report_data(settings, target)
    charts = build_charts(data)
    html = render_html(data, charts, vega_javascript(settings.resolved_data_dir / "cache"))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(path)
    for chart in charts:
        logger.info("report chart %s: %d rows drawn for %s", chart.chart_id, chart.rows_drawn, chart.covers)
    logger.info("report written: %s (%d bytes, %d charts)", path, len(html.encode()), len(charts))
    return path
