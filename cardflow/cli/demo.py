"""``cardflow demo``: the whole medallion pipeline on embedded defaults, with a readable summary.

Starts the embedded event store (unless POSTGRES_HOST is set) and creates its schema when missing
(:func:`~cardflow.sources.eventstore.store.bootstrap_event_store`), generates events (skipped when
the store already holds them, so re-running is safe), runs ``medallion_pipeline`` and prints rows per
layer, top SKUs by revenue, defect rate by sport, and where everything is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from cardflow.cli.progress import StageProgress
from cardflow.dev.generator import EventGenerator, GeneratorConfig, current_hour
from cardflow.settings import Settings, get_settings
from cardflow.sources.eventstore import store as eventstore
from cardflow.sqlfiles import named_queries

T = TypeVar("T")


@dataclass
class DemoSummary:
    """What the demo did and found; printed, and returned for tests."""

    generated: int = 0
    event_store_rows: int = 0
    bronze_objects: int = 0
    layer_counts: dict[str, int] = field(default_factory=dict)
    top_skus: list[tuple[Any, ...]] = field(default_factory=list)
    defect_rate_by_sport: list[tuple[Any, ...]] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)
    report_path: str | None = None
    log_path: str | None = None


def _timed(progress: StageProgress, name: str, fn: Callable[[], T]) -> T:
    progress.stage(name)
    result = fn()
    progress.finish()
    return result


def generate_into_store(settings: Settings, config: GeneratorConfig) -> int:
    """Create the event store schema if missing, then generate ``config`` into it unless it already
    holds that many events (the demo is the one reader that prepares its own store)."""
    eventstore.bootstrap_event_store(settings)
    if eventstore.count_events(settings) >= config.events:
        return 0
    with eventstore.connect(settings) as conn:
        return eventstore.insert_events(conn, EventGenerator(config), settings)


def collect_summary(settings: Settings, summary: DemoSummary) -> DemoSummary:
    """Query the warehouse for the summary tables (DuckDB; read-only connection, UTC session)."""
    from cardflow.backends.chooser import resolve_backends
    from cardflow.bronze.layout import is_part_key

    summary.event_store_rows = eventstore.count_events(settings)
    store = resolve_backends(settings, needs={"bronze"}).store()
    summary.bronze_objects = sum(1 for k in store.list_keys(settings.s3_prefix) if is_part_key(k))
    queries = named_queries(
        "demo_summary.sql",
        __file__,
        raw=settings.snowflake_raw_schema,
        silver=settings.snowflake_silver_schema,
        gold=settings.snowflake_gold_schema,
    )
    from cardflow.warehouse.duckdb import connect_utc

    with connect_utc(settings.duckdb_path, read_only=True) as con:
        summary.layer_counts = dict(con.execute(queries["layer_counts"]).fetchall())
        summary.top_skus = con.execute(queries["top_skus_by_revenue"]).fetchall()
        summary.defect_rate_by_sport = con.execute(queries["defect_rate_by_sport"]).fetchall()
    return summary


def print_summary(console: Console, settings: Settings, summary: DemoSummary) -> None:
    layers = Table(title="Rows per layer", show_edge=False)
    layers.add_column("layer")
    layers.add_column("rows", justify="right")
    layers.add_row("event store (postgres events)", f"{summary.event_store_rows:,}")
    layers.add_row("bronze objects (gzip NDJSON)", f"{summary.bronze_objects:,}")
    for name, count in summary.layer_counts.items():
        layers.add_row(name, f"{count:,}")
    console.print(layers)

    top = Table(title="Top SKUs by revenue", show_edge=False)
    for col in ("sku", "card", "revenue", "units"):
        top.add_column(col, justify="right" if col in ("revenue", "units") else "left")
    for sku, name, revenue, units in summary.top_skus:
        top.add_row(sku, name or "(unknown sku)", f"${revenue:,.2f}", f"{units:,}")
    console.print(top)

    defects = Table(title="Defect rate by sport", show_edge=False)
    for col in ("sport", "batches", "units produced", "defect rate"):
        defects.add_column(col, justify="left" if col == "sport" else "right")
    for sport, batches, units, rate in summary.defect_rate_by_sport:
        defects.add_row(sport, f"{batches:,}", f"{units:,}", f"{rate:.2%}" if rate is not None else "-")
    console.print(defects)

    from cardflow.backends.chooser import resolve_backends

    store = resolve_backends(settings, needs={"bronze"}).store()
    console.print("\n[bold]Where things are[/bold]")
    console.print(f"  event store : {eventstore.describe(settings)}")
    console.print(f"  bronze      : {store.uri(settings.s3_prefix)}")
    console.print(f"  warehouse   : {settings.duckdb_path}")
    if summary.report_path:
        console.print(f"  report      : {summary.report_path}")
    if summary.log_path:
        console.print(f"  log file    : {summary.log_path}")
    console.print("\n[bold]Query it[/bold]")
    console.print(
        f"  python -c \"import duckdb; print(duckdb.connect('{settings.duckdb_path}', read_only=True)"
        f".sql('select * from {settings.snowflake_gold_schema.lower()}.fct_orders limit 5'))\""
    )
    console.print("  more starter queries: sql/examples.sql")


def run_demo(
    events: int = 200_000,
    seed: int = 42,
    settings: Settings | None = None,
    console: Console | None = None,
    progress: StageProgress | None = None,
    log_path: str | None = None,
) -> DemoSummary:
    """Run the demo end to end and return its summary.

    Prints one line per stage (the pipeline's backfill, load and transform stages are announced
    by its log records, see :mod:`cardflow.cli.progress`), then the summary tables.
    """
    if progress is None:
        console = console or Console(highlight=False)
        with StageProgress(console) as own:
            return run_demo(events, seed, settings, console, own, log_path)
    # DuckDB's C extension is imported before any stage runs: a Ctrl-C that lands inside its module
    # initialisation aborts the process (nanobind, exit -6) instead of stopping the demo cleanly
    import duckdb  # noqa: F401

    from flows.pipeline import medallion_pipeline

    settings = settings or get_settings()
    console = progress.console
    summary = DemoSummary(log_path=log_path)
    console.rule("[bold]cardflow demo[/bold]")
    _timed(progress, "start the event store", lambda: eventstore.describe(settings))
    summary.generated = _timed(
        progress,
        f"generate {events:,} events (seed {seed})",
        lambda: generate_into_store(settings, GeneratorConfig(events=events, seed=seed, end=current_hour())),
    )
    if not summary.generated:
        console.print("  event store already holds the demo events: generation skipped (re-run)")
    progress.stage("medallion_pipeline: start the run")
    medallion_pipeline(settings=settings)
    progress.finish()
    collect_summary(settings, summary)
    from cardflow.backends.chooser import resolve_backends
    from cardflow.reporting.report import write_report

    backends = resolve_backends(settings, needs={"warehouse"})
    summary.report_path = str(
        _timed(progress, "HTML report of Gold", lambda: write_report(backends.settings, backends.target))
    )
    summary.steps = dict(progress.steps)
    print_summary(console, settings, summary)
    return summary
