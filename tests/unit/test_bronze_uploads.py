"""The upload pool's process settings: the malloc arena cap of the backfill's threads, and handing
freed memory back between chunks."""

from __future__ import annotations

import subprocess
import sys

import pytest

_PROBE = """
import ctypes, sys, threading
from cardflow.bronze.uploads import limit_malloc_arenas
applied = limit_malloc_arenas(2)
# glibc reports the arenas in use through malloc_info; count them after 8 threads allocated
def work():
    blobs = [bytearray(20_000) for _ in range(50)]  # below the mmap threshold: from an arena
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
libc = ctypes.CDLL(None)
libc.open_memstream.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
ptr, size = ctypes.c_char_p(), ctypes.c_size_t()
fp = libc.open_memstream(ctypes.byref(ptr), ctypes.byref(size))
libc.malloc_info(0, fp); libc.fclose(fp)
print(applied, ptr.value.decode().count("<heap nr="))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and malloc_info")
@pytest.mark.parametrize(("env", "applied", "most"), [({}, "True", 2), ({"MALLOC_ARENA_MAX": "4"}, "False", 4)])
def test_the_arena_cap_holds_for_threads_started_after_it(env: dict[str, str], applied: str, most: int) -> None:
    """Eight threads allocating share at most two arenas after the cap; an operator's own
    MALLOC_ARENA_MAX is left alone (and glibc applies it)."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, env={"PATH": "/usr/bin"} | env
    ).stdout.split()
    assert out[0] == applied
    assert 1 <= int(out[1]) <= most


_TRIM_PROBE = """
import os
from cardflow.bronze.uploads import release_free_memory
page = os.sysconf("SC_PAGE_SIZE")
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * page / 2**20
blocks = [bytearray(60_000) for _ in range(2_000)]  # 120 MB below the mmap threshold: in the heap
keep = blocks[-1]  # a live block at the heap's top: free() alone cannot shrink the heap
del blocks
before = rss_mb()
release_free_memory()
print(round(before), round(rss_mb()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_buffers_go_back_to_the_system_between_chunks() -> None:
    """What the landing does after each committed chunk: the slack freed buffers leave between
    live ones is returned, so a long run's peak does not keep what earlier chunks used."""
    out = subprocess.run(
        [sys.executable, "-c", _TRIM_PROBE], capture_output=True, text=True, check=True, env={"PATH": "/usr/bin"}
    ).stdout.split()
    before, after = int(out[0]), int(out[1])
    assert before > 100
    assert after < before - 80
