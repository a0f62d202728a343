"""tasks.watermark: the state round-trips, a missing state is empty, a corrupt one says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardflow.bronze.store import BronzeStore, LocalBronzeStore
from cardflow.errors import ConcurrentWriteError, StorageError
from cardflow.sources.eventstore.extract import BEGINNING, Position
from cardflow.sources.eventstore.watermark import BackfillState, load_state, save_state


def test_state_round_trip(tmp_path: Path) -> None:
    store = LocalBronzeStore(tmp_path)
    key = "bronze/_state/backfill-events.json"
    assert load_state(store, key) == BackfillState()
    state = BackfillState(
        watermark=Position("2026-10-05T20:11:03.123456+00:00", "6f1c9a43-0000-4000-8000-000000000001"),
        pending_objects=[{"key": "k", "rows": 1, "sha256": "x", "bytes": 2}],
        run_id="r1",
    )
    save_state(store, key, state)
    assert load_state(store, key) == state


def test_corrupt_state_names_the_key_and_the_remedy(tmp_path: Path) -> None:
    store = LocalBronzeStore(tmp_path)
    store.write_bytes("s.json", b"{not json")
    with pytest.raises(StorageError, match="full_refresh"):
        load_state(store, "s.json")


def test_positions_order_like_postgres() -> None:
    a = Position("2026-10-05T20:11:03.123456+00:00", "00000000-0000-4000-8000-000000000002")
    b = Position("2026-10-05T20:11:03.123456+00:00", "10000000-0000-4000-8000-000000000001")
    c = Position("2026-10-05T20:11:03.123457+00:00", "00000000-0000-4000-8000-000000000000")
    assert BEGINNING < a < b < c


def _store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> BronzeStore:
    if kind == "local":
        return LocalBronzeStore(tmp_path)
    from cardflow.backends.chooser import resolve_backends

    return resolve_backends(request.getfixturevalue("s3_settings")).store()


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_two_backfills_interleaved_never_lose_a_state_update(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Fault injected: runs A and B both read the state, A commits a chunk, then B commits one from
    its stale copy. B must fail loudly and A's watermark must survive; B, re-reading, then commits
    on top of A's state."""
    store = _store(kind, request, tmp_path)
    key = "bronze/_state/backfill-events.json"
    save_state(store, key, BackfillState(run_id="seed"))
    run_a, run_b = load_state(store, key), load_state(store, key)
    run_a.watermark, run_a.run_id = Position("2026-10-05T20:00:00+00:00", "00000000-0000-4000-8000-00000000000a"), "A"
    run_a.pending_objects.append({"key": "a", "rows": 1})
    save_state(store, key, run_a)
    run_b.watermark, run_b.run_id = Position("2026-10-05T19:00:00+00:00", "00000000-0000-4000-8000-00000000000b"), "B"
    with pytest.raises(ConcurrentWriteError):
        save_state(store, key, run_b)
    stored = load_state(store, key)
    assert stored.run_id == "A" and stored.pending_objects == [{"key": "a", "rows": 1}]
    stored.pending_objects.append({"key": "b", "rows": 1})
    save_state(store, key, stored)
    save_state(store, key, stored)  # a run's own successive saves chain on its last version
    assert [o["key"] for o in load_state(store, key).pending_objects] == ["a", "b"]


def test_concurrent_read_modify_write_loses_nothing(tmp_path: Path) -> None:
    """Fault injected: four threads race read-modify-write on one state object (local store); each
    retries on a lost race. Every one of their 4 x 25 appends must be in the final state."""
    import threading

    store = LocalBronzeStore(tmp_path)
    key = "bronze/_state/backfill-events.json"
    save_state(store, key, BackfillState())
    conflicts = []

    def writer(name: str) -> None:
        for i in range(25):
            while True:
                state = load_state(store, key)
                state.pending_objects.append({"key": f"{name}-{i}"})
                try:
                    save_state(store, key, state)
                    break
                except ConcurrentWriteError:
                    conflicts.append(name)

    threads = [threading.Thread(target=writer, args=(n,)) for n in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [o["key"] for o in load_state(store, key).pending_objects]
    assert sorted(keys) == sorted(f"{n}-{i}" for n in "abcd" for i in range(25))
