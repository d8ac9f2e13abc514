"""Replace-by-rename file writes: readers see the old file or the new one, never a mix."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from unipo.runs.schema import TMP_SUFFIX


def write_atomically(path: Path, write: Callable[[Path], None], *, fsync: bool = True) -> None:
    """Call write(tmp_path), then rename tmp_path over path. The temp file is removed on failure."""
    tmp_path = path.with_name(path.name + TMP_SUFFIX)
    try:
        write(tmp_path)
        if fsync:
            # Without it a power loss could leave a renamed but empty file.
            with open(tmp_path, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_json_atomically(path: Path, data: object) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes_atomically(path: Path, data: bytes) -> None:
    write_atomically(path, lambda tmp: tmp.write_bytes(data))
