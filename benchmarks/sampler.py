"""A small sampling profiler over every thread of the process (``--profile``).

cProfile sees only the thread it runs in, while the backfill and the consumer work in extraction,
upload and landing threads. This sampler wakes every few milliseconds, takes
``sys._current_frames()`` and counts, per thread group (thread name up to its last ``-``/``_``
digit), the innermost frame (self time; a thread waiting on a socket or a lock shows that wait)
and every function on the stack (inclusive time). Like py-spy's top view, at Python level only.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

_GROUP = re.compile(r"[-_]?\d+$")


def _where(frame: FrameType, *, line: bool = False) -> str:
    code = frame.f_code
    parts = Path(code.co_filename).parts
    short = "/".join(parts[-2:])
    return f"{code.co_name} ({short}:{frame.f_lineno if line else code.co_firstlineno})"


class Sampler:
    """Start with :meth:`start`, stop and write a report with :meth:`stop`."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples = 0
        self.self_counts: Counter[tuple[str, str]] = Counter()
        self.total_counts: Counter[tuple[str, str]] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                group = _GROUP.sub("", names.get(ident, "?"))
                self.self_counts[(group, _where(frame, line=True))] += 1
                seen: set[str] = set()
                f: FrameType | None = frame
                while f is not None:
                    where = _where(f)
                    if where not in seen:
                        seen.add(where)
                        self.total_counts[(group, where)] += 1
                    f = f.f_back
            self.samples += 1
            time.sleep(self.interval)

    def stop(self, out: Path, top: int = 30) -> None:
        self._stop.set()
        self._thread.join()
        lines = [f"{self.samples} samples every {self.interval * 1000:.0f} ms, all threads", ""]
        lines.append("self (innermost frame) per thread group:")
        for (group, where), n in self.self_counts.most_common(top):
            lines.append(f"  {100 * n / max(1, self.samples):6.1f}%  {group:<24} {where}")
        lines += ["", "inclusive (on the stack) per thread group:"]
        for (group, where), n in self.total_counts.most_common(top):
            lines.append(f"  {100 * n / max(1, self.samples):6.1f}%  {group:<24} {where}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
