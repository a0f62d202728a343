"""Generator throughput: events generated and COPYed into the event store per second."""

from __future__ import annotations

from benchmarks.data import ensure_events
from benchmarks.harness import BenchContext, Case


def _generate(ctx: BenchContext) -> int:
    return ensure_events(ctx)


def cases(ctx: BenchContext) -> list[Case]:
    return [Case("generate", "generate + COPY into Postgres (once per size)", _generate)]
