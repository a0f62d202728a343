"""Fanned-out backfill: a run's key range split into independent, idempotent time slices.

A backfill plan's range ``(lo, hi]`` is cut at whole UTC hours into ``slices`` units of about the
same time span (:func:`split_plan`). Each unit is landed on its own (:func:`land_unit`) as an
explicit range that never touches the state: it reads what Bronze already holds for its hours
(:mod:`cardflow.bronze.inventory`) and writes only what is missing, so a unit can run on any
worker, in any order, and be retried alone after a failure without duplicating a row. Because the
cuts fall on hour boundaries, no partition-hour is shared by two units: with chunks as large as a
unit, a fanned-out run writes the very objects (keys and bytes) a single-unit run writes.

Units run in parallel on whatever executes them: Prefect mapped tasks on the flow's task runner
(:mod:`flows.backfill`: threads here, a ``DaskTaskRunner`` across machines), or a thread pool in
:func:`run_sliced_backfill` (CLI, benchmark, tests). The caller commits as they finish:
:func:`commit_finished_units` moves the watermark only over the contiguous run of finished units
from the first one, so a crash never leaves a gap under the watermark; objects of units finished
beyond a gap are found and listed by the next run (the inventory adopts them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from cardflow.bronze.store import BronzeStore
from cardflow.contract import format_timestamp
from cardflow.settings import Settings
from cardflow.sources.eventstore import extract
from cardflow.sources.eventstore.extract import Position
from cardflow.sources.eventstore.finish import BackfillResult, finish_backfill
from cardflow.sources.eventstore.landing import ChunksLanded, land_chunks
from cardflow.sources.eventstore.plan import BackfillPlan, plan_backfill
from cardflow.sources.eventstore.watermark import load_state, save_state

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class BackfillUnit:
    """One slice of a run: the keys in ``(lo, hi]``; ``index`` orders the slices of the run."""

    index: int
    lo: Position
    hi: Position


def _floor_hour(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def split_plan(plan: BackfillPlan, slices: int) -> list[BackfillUnit]:
    """Cut the plan's range at whole hours into at most ``slices`` consecutive units.

    Returns no unit when the plan has nothing to read, one unit covering the whole range when
    ``slices`` is 1 or the range lies within one hour.

    Raises:
        ValueError: ``slices`` is not positive.
    """
    if slices < 1:
        raise ValueError(f"slices must be positive, got {slices}")
    if plan.hi is None or plan.first is None:
        return []
    last = plan.hi.timestamp
    start = plan.first.timestamp or last
    if last is None or start is None:
        return [BackfillUnit(0, plan.lo, plan.hi)]
    first_hour, last_hour = _floor_hour(start), _floor_hour(last)
    hours = int((last_hour - first_hour) / HOUR) + 1
    per = max(1, -(-hours // slices))  # ceil
    cuts = [first_hour + HOUR * (per * k) for k in range(1, slices) if per * k < hours]
    bounds = [plan.lo, *(Position.just_before(cut) for cut in cuts), plan.hi]
    return [BackfillUnit(i, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def unit_plan(plan: BackfillPlan, unit: BackfillUnit, first: Position | None) -> BackfillPlan:
    """The unit as an explicit-range plan of its own (it never writes the state)."""
    return replace(
        plan,
        run_id=f"{plan.run_id}-u{unit.index:04d}",
        mode="range",
        lo=unit.lo,
        hi=unit.hi if first else None,
        first=first,
    )


def land_unit(plan: BackfillPlan, unit: BackfillUnit, settings: Settings, store: BronzeStore) -> ChunksLanded:
    """Land one unit: extract its chunks and write what Bronze does not hold yet.

    Idempotent: running it again (after a failure half way, or twice at once) writes no row twice,
    and adopts the objects an earlier attempt wrote. Never moves the watermark (the caller commits
    with :func:`commit_finished_units`).
    """
    with extract.extraction_session(settings) as conn:
        first = extract.first_position(conn, settings, unit.lo, unit.hi)
    landed = land_chunks(unit_plan(plan, unit, first), settings, store)
    landed.watermark_after = unit.hi
    return landed


def commit_finished_units(
    plan: BackfillPlan,
    units: list[BackfillUnit],
    finished: Mapping[int, ChunksLanded],
    committed: int,
    store: BronzeStore,
) -> int:
    """Move the watermark over the contiguous run of finished units that starts at ``committed``.

    The watermark advances to the last such unit's upper key (each unit's chunks announced their
    objects in their own manifests); a finished unit after an unfinished one waits.
    Explicit-range runs (``plan.commits_state`` false) never write the state.

    Returns:
        The index of the first unit not committed yet (``len(units)`` when all are).
    """
    nxt = committed
    while nxt < len(units) and nxt in finished:
        nxt += 1
    if nxt == committed or not plan.commits_state:
        return nxt
    state = load_state(store, plan.state_key)
    end = units[nxt - 1].hi
    state.watermark = max(state.watermark, end) if state.watermark else end
    state.run_id = plan.run_id
    state.updated_at = format_timestamp(datetime.now(UTC))
    save_state(store, plan.state_key, state)
    logger.info(
        "backfill %s: units %d..%d committed, watermark %s", plan.run_id, committed, nxt - 1, end.inserted_at
    )
    return nxt


def merge_landed(parts: list[ChunksLanded]) -> ChunksLanded:
    """One :class:`ChunksLanded` for the whole run from its units' (in unit order)."""
    total = ChunksLanded()
    for landed in parts:
        total.rows_read += landed.rows_read
        total.rows_written += landed.rows_written
        total.rows_already_in_bronze += landed.rows_already_in_bronze
        total.quarantined += landed.quarantined
        total.slow_path_rows += landed.slow_path_rows
        total.chunks += landed.chunks
        total.objects_written += landed.objects_written
        total.quarantine_objects_written += landed.quarantine_objects_written
        total.objects_listed += landed.objects_listed
        total.manifest_keys.extend(landed.manifest_keys)
        total.watermark_after = landed.watermark_after or total.watermark_after
    return total


UnitRunner = Callable[[BackfillPlan, BackfillUnit, Settings, BronzeStore], ChunksLanded]


def run_sliced_backfill(
    settings: Settings,
    store: BronzeStore,
    *,
    slices: int,
    workers: int,
    start: datetime | None = None,
    end: datetime | None = None,
    full_refresh: bool = False,
    chunk_size: int | None = None,
    attempts: int = 3,
    land: UnitRunner = land_unit,
    now: datetime | None = None,
) -> BackfillResult:
    """Plan, land ``slices`` units on ``workers`` threads, commit as they finish (each unit's chunks
    write their own manifests).

    The thread-pool twin of the flow's mapped tasks (for the CLI, the benchmark and tests). A unit
    that fails is retried alone, up to ``attempts`` times; if it still fails, the units before it
    stay committed and the error is raised.
    """
    if workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    plan = plan_backfill(
        settings, store, start=start, end=end, full_refresh=full_refresh, chunk_size=chunk_size, now=now
    )
    units = split_plan(plan, slices)
    finished: dict[int, ChunksLanded] = {}
    committed = 0

    def attempt(unit: BackfillUnit) -> ChunksLanded:
        for n in range(1, attempts + 1):
            try:
                return land(plan, unit, settings, store)
            except Exception as exc:
                if n == attempts:
                    raise
                logger.warning("backfill %s: unit %d failed (%s); retrying it", plan.run_id, unit.index, exc)
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill-unit") as pool:
        running: dict[Future[ChunksLanded], BackfillUnit] = {pool.submit(attempt, u): u for u in units}
        error: BaseException | None = None
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                unit = running.pop(future)
                try:
                    finished[unit.index] = future.result()
                except Exception as exc:
                    error = error or exc
            committed = commit_finished_units(plan, units, finished, committed, store)
        if error is not None:
            raise error
    return finish_backfill(plan, merge_landed([finished[u.index] for u in units]), settings, store)
