"""Time slices of a backfill plan, and the watermark over the contiguous run of finished units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from cardflow.bronze.store import LocalBronzeStore
from cardflow.sources.eventstore.extract import BEGINNING, Position
from cardflow.sources.eventstore.landing import ChunksLanded
from cardflow.sources.eventstore.plan import BackfillPlan
from cardflow.sources.eventstore.slices import commit_finished_units, merge_landed, split_plan
from cardflow.sources.eventstore.watermark import load_state

T0 = datetime(2026, 10, 1, 0, 17, tzinfo=UTC)
ID = "7" * 8 + "-7777-7777-7777-" + "7" * 12


def _plan(hours: float, mode: str = "incremental") -> BackfillPlan:
    return BackfillPlan(
        run_id="r",
        mode=mode,  # type: ignore[arg-type]
        lo=BEGINNING,
        hi=Position.of(T0 + timedelta(hours=hours), ID),
        first=Position.of(T0, ID),
        watermark_before=None,
        ingested_at=T0,
        chunk_size=10,
        state_key="bronze/_state/backfill-events.json",
    )


def test_units_cover_the_range_contiguously_and_cut_at_whole_hours() -> None:
    plan = _plan(hours=71.5)
    units = split_plan(plan, 4)
    assert len(units) == 4
    assert units[0].lo == plan.lo and units[-1].hi == plan.hi
    for left, right in pairwise(units):
        assert left.hi == right.lo
        cut = left.hi.timestamp + timedelta(microseconds=1)
        assert cut.minute == cut.second == cut.microsecond == 0


@pytest.mark.parametrize(("hours", "slices", "expected"), [(0.2, 8, 1), (3, 8, 4), (71.5, 1, 1), (71.5, 3, 3)])
def test_never_more_units_than_hours(hours: float, slices: int, expected: int) -> None:
    assert len(split_plan(_plan(hours), slices)) == expected


def test_nothing_to_read_means_no_unit_and_bad_counts_fail() -> None:
    empty = _plan(1).__class__(**{**_plan(1).__dict__, "hi": None, "first": None})
    assert split_plan(empty, 4) == []
    with pytest.raises(ValueError, match="slices"):
        split_plan(_plan(1), 0)


def _landed(key: str) -> ChunksLanded:
    """A unit that wrote one object and announced it in its own manifest."""
    return ChunksLanded(
        rows_read=1, rows_written=1, objects_written=1, objects_listed=1, manifest_keys=[f"m/{key}.json"]
    )


def test_watermark_moves_only_over_contiguous_finished_units(tmp_path: Path) -> None:
    store = LocalBronzeStore(tmp_path)
    plan = _plan(hours=10)
    units = split_plan(plan, 5)
    finished = {0: _landed("a"), 2: _landed("c"), 3: _landed("d")}
    assert commit_finished_units(plan, units, finished, 0, store) == 1
    state = load_state(store, plan.state_key)
    assert state.watermark == units[0].hi
    assert state.pending_objects == []  # the units' own manifests list their objects

    finished[1] = _landed("b")
    assert commit_finished_units(plan, units, finished, 1, store) == 4
    state = load_state(store, plan.state_key)
    assert state.watermark == units[3].hi
    # nothing new finished: nothing written
    assert commit_finished_units(plan, units, finished, 4, store) == 4


def test_range_runs_never_write_the_state(tmp_path: Path) -> None:
    store = LocalBronzeStore(tmp_path)
    plan = _plan(hours=10, mode="range")
    units = split_plan(plan, 2)
    assert commit_finished_units(plan, units, {0: _landed("a"), 1: _landed("b")}, 0, store) == 2
    assert not store.exists(plan.state_key)


def test_merge_sums_counts_and_keeps_every_manifest_in_unit_order() -> None:
    merged = merge_landed([_landed("a"), _landed("b")])
    assert merged.rows_written == 2 and merged.objects_written == 2 and merged.objects_listed == 2
    assert merged.manifest_keys == ["m/a.json", "m/b.json"]
