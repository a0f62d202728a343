"""The Gold layer at a glance: one self-contained HTML file with charts, freshness and gate status.

``write_report(settings)`` reads Gold (DuckDB file or Snowflake) with some of the analysts' starter
queries (``sql/examples.sql``) plus aggregates of its own (``report.sql`` beside this module), draws
Altair charts (:mod:`cardflow.reporting.charts`) and writes ``<CARDFLOW_DATA_DIR>/report/index.html``.
The file works offline: the Vega, Vega-Lite and vega-embed JavaScript comes inlined from the
``vl-convert-python`` wheel (no CDN), charts render as SVG in the browser, and every chart's data
is embedded in the page.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from cardflow.errors import ReportError
from cardflow.reporting.charts import ReportChart, build_charts, vega_javascript
from cardflow.reporting.values import missing, utc
from cardflow.settings import Settings
from cardflow.sqlfiles import named_queries
from cardflow.warehouse.connection import WarehouseTarget, open_session

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
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


def judge_freshness(row: dict[str, Any], settings: Settings, now: datetime) -> Freshness:
    """Freshness of RAW from its ``raw_freshness`` row: age of the newest event's ``inserted_at``."""
    newest = utc(row.get("newest_event_inserted_at"))
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
        newest_ingested_at=utc(row.get("newest_ingested_at")),
        newest_loaded_at=utc(row.get("newest_loaded_at")),
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
        checked_at=utc(record.get("checked_at")),
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


# --- HTML ----------------------------------------------------------------------------------------
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

    if missing(value):
        return ""
    if isinstance(value, datetime | pd.Timestamp):
        return utc(value).strftime("%Y-%m-%d %H:%M UTC")
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
