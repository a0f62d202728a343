"""The C library's functions Bronze writers call directly (``syncfs``, ``mallopt``, ``malloc_trim``).

One cached lookup for all of them: each is optional (glibc on Linux has them; elsewhere the caller
falls back or does nothing), and errno is kept for callers that report it.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def libc_function(name: str) -> Any | None:
    """The C library's function ``name``, or None where there is none."""
    lib = _libc()
    return getattr(lib, name, None) if lib is not None else None
