"""Allocator settings for the `unipo serve` process, so serving a large run keeps a flat footprint.

Each step request allocates and frees a few 1-10 MB buffers (Parquet pages, Arrow columns, numpy
arrays, the JSON body). With the defaults, freed memory is kept rather than returned: pyarrow's
mimalloc pool backs it with transparent huge pages, and glibc raises its mmap threshold after the
first large free, so later large buffers land in a heap that fragments. Measured on a 64 x 512 step
read 60 times: ~410 MB RSS with the defaults, ~250 MB with the settings below (same work).
Process-wide, so only serve() calls this; create_app() (tests, embedding) leaves the host alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib.abc
import sys

import pyarrow as pa

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Buffers at least this large are mmapped and handed back to the OS as soon as they are freed.
MMAP_THRESHOLD_BYTES = 128 * 1024


def tune_allocators() -> None:
    pa.set_memory_pool(pa.system_memory_pool())
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    try:
        libc = ctypes.CDLL(libc_name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return  # not glibc (macOS, musl): their allocators need no such help
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)  # a fixed value also stops glibc raising it
    mallopt(_M_ARENA_MAX, 2)  # the thread pool's threads share two heaps instead of one each


class _NoPandas(importlib.abc.MetaPathFinder):
    """Makes `import pandas` fail as if pandas were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (kept out of the unipo serve process)", name=name)
        return None


def keep_pandas_out() -> None:
    """pyarrow imports pandas, when installed, on its first numpy conversion (pa.array(ndarray),
    to_numpy(): its pandas shim probes for pandas Series, and the C++ converter looks up pandas'
    NaT/NA). The server never uses pandas, and pyarrow treats an ImportError as "pandas absent", yet
    the import costs ~35 MB resident plus its allocations (~70 MB in all while serving). A no-op
    when pandas is already loaded. Process-wide, so only serve() calls it."""
    if "pandas" in sys.modules or any(isinstance(finder, _NoPandas) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _NoPandas())
