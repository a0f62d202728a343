"""Benchmark data: the generated events, created once per (size, seed) in the real local Postgres."""

from __future__ import annotations

from benchmarks.harness import BenchContext
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.sources.eventstore import store as eventstore


def ensure_events(ctx: BenchContext) -> int:
    """Generate ``ctx.events`` events into the benchmark database unless they are already there."""
    settings = ctx.settings()
    eventstore.bootstrap_event_store(settings)
    if eventstore.count_events(settings) == ctx.events:
        return ctx.events
    with eventstore.connect(settings) as conn:
        with conn.cursor() as cur:
            cur.execute(f"TRUNCATE {settings.events_table}")
        conn.commit()
        config = GeneratorConfig(events=ctx.events, seed=ctx.seed, days=ctx.days)
        eventstore.insert_events(conn, EventGenerator(config), settings)
    return ctx.events
