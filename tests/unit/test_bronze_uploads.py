"""The upload pool's process setting: the malloc arena cap of the backfill's threads."""

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
