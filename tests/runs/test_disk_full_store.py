"""A full disk under RunWriter: DiskFullError naming the file and the free space, no temp file left,
and the next write works once space is freed (a real small tmpfs, when running as root)."""
from __future__ import annotations

import errno
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from unipo.runs import DiskFullError, RunReader, RunWriter


def _leftover_temp_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def small_tmpfs(tmp_path):
    # tests/runs/test_disk_full_store.py has the same fixture (tests/ is not a package).
    """mount(size) -> a tmpfs of that size (remount(size) grows it); unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the ENOSPC tests below run everywhere)")
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
        mounted.append(point)
        return point

    def remount(point: Path, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(point)], check=True, timeout=30)

    mount.remount = remount
    try:
        yield mount
    finally:
        for point in mounted:
            subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=30)


def _fill(point: Path) -> Path:
    """Use up the file system's free space with one file (removed by the caller to free it)."""
    filler = point / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_under_run_writer_names_the_step_file_and_leaves_no_temp_file(small_tmpfs, fake_record):
    point = small_tmpfs("128k")
    run = point / "run"
    writer = RunWriter.create(run, {"task": {"name": "t"}})
    writer.write_update(1, fake_record(), {"loss": 1.0})
    filler = _fill(point)
    with pytest.raises(DiskFullError, match=r"step-000002\.parquet: no space left on the device while writing "
                                            r"step 2 \(needed about .*, .* free on "):
        writer.write_update(2, fake_record(seed=2), {"loss": 2.0})
    assert not _leftover_temp_files(run)
    filler.unlink()
    writer.write_update(2, fake_record(seed=2), {"loss": 2.0})
    writer.close()
    assert RunReader(run).steps() == [1, 2] and RunReader(run).metrics()["step"] == [1, 2]
