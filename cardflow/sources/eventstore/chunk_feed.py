"""The backfill's extraction threads: consecutive keyset chunks, each streamed into its own queue.

Several read-only connections extract consecutive chunks of the plan's range at once; the writer
consumes them strictly in chunk order (:meth:`ChunkFeed.items`), which is what lets the landing
step commit the watermark chunk by chunk. Each chunk's queue is bounded, so memory holds at most
``GROUPS_BUFFERED`` partition groups per extracting connection. An extraction error is handed to
the writer, which raises it; a writer that gives up stops the threads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from cardflow.errors import EventStoreError
from cardflow.settings import Settings
from cardflow.sources.eventstore import extract
from cardflow.sources.eventstore.extract import Position
from cardflow.sources.eventstore.plan import BackfillPlan

#: extraction connections working on consecutive chunks at once
EXTRACT_CONNECTIONS = 2
#: groups buffered per chunk between an extraction connection and the writer
GROUPS_BUFFERED = 8


class _Stop(Exception):
    """Raised inside extraction threads when the writer has given up."""


class ChunkFeed:
    """Extraction threads over the plan's range; read with :meth:`items`, then :meth:`close`."""

    def __init__(self, settings: Settings, plan: BackfillPlan, connections: int) -> None:
        assert plan.hi is not None
        self.settings, self.plan = settings, plan
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._queues: dict[int, queue.Queue[tuple[str, Any]]] = {}
        self._next_index = 0
        self._cursor = plan.lo
        self._exhausted = False
        self._boundary_session = extract.extraction_session(settings)
        self._conn = self._boundary_session.__enter__()
        self._threads = [
            threading.Thread(target=self._work, name=f"backfill-extract-{i}", daemon=True)
            for i in range(connections)
        ]
        for thread in self._threads:
            thread.start()

    def queue_of(self, index: int) -> queue.Queue[tuple[str, Any]]:
        with self._lock:
            return self._queues.setdefault(index, queue.Queue(maxsize=GROUPS_BUFFERED))

    def _claim(self) -> tuple[int, Position, Position] | None:
        """The next chunk (index, lo, hi), in key order; None when the range is done."""
        assert self.plan.hi is not None
        with self._lock:
            if self._exhausted:
                return None
            lo = self._cursor
            hi = extract.chunk_end(self._conn, self.settings, lo, self.plan.hi, self.plan.chunk_size)
            index = self._next_index
            self._next_index += 1
            self._cursor = hi
            self._exhausted = hi >= self.plan.hi
            return index, lo, hi

    def _put(self, index: int, item: tuple[str, Any]) -> None:
        q = self.queue_of(index)
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _work(self) -> None:
        claimed: tuple[int, Position, Position] | None = None
        try:
            with extract.extraction_session(self.settings) as conn:
                while not self.stop.is_set():
                    claimed = None
                    claimed = self._claim()
                    if claimed is None:
                        self._put(self._next_index_final(), ("done", None))
                        return
                    index, lo, hi = claimed
                    for group in extract.iter_groups(
                        conn, self.settings, lo, hi, ingested_at=self.plan.ingested_at
                    ):
                        self._put(index, ("group", group))
                    self._put(index, ("end", hi))
        except _Stop:
            return
        except Exception as exc:  # handed to the writer thread, which raises it
            index = claimed[0] if claimed else self._next_index_final()
            try:
                self._put(index, ("error", exc))
            except _Stop:
                return

    def _next_index_final(self) -> int:
        with self._lock:
            return self._next_index

    def _get(self, index: int) -> tuple[str, Any]:
        q = self.queue_of(index)
        while True:
            try:
                return q.get(timeout=1.0)
            except queue.Empty:
                if not any(t.is_alive() for t in self._threads) and q.empty():
                    raise EventStoreError(
                        f"backfill extraction stopped before chunk {index} was complete; re-run the "
                        "backfill (it resumes from the committed watermark)"
                    ) from None

    def items(self) -> Iterator[tuple[int, str, Any]]:
        """``(chunk index, kind, payload)`` in chunk order; kinds: group, end; stops when done."""
        index = 0
        while True:
            kind, payload = self._get(index)
            if kind == "error":
                raise payload
            if kind == "done":
                return
            yield index, kind, payload
            if kind == "end":
                with self._lock:
                    self._queues.pop(index, None)
                index += 1

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._boundary_session.__exit__(None, None, None)

