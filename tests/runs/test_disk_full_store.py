"""A full disk under RunWriter: DiskFullError naming the file and the free space, no temp file left,
and the next write works once space is freed (a real small tmpfs, when running as root)."""
from __future__ import annotations


import pytest
from support.tmpfs import fill, leftover_temp_files, small_tmpfs  # noqa: F401 (fixture)

from unipo.runs import DiskFullError, RunReader, RunWriter


def test_a_full_disk_under_run_writer_names_the_step_file_and_leaves_no_temp_file(small_tmpfs, fake_record):
    point = small_tmpfs("128k")
    run = point / "run"
    writer = RunWriter.create(run, {"task": {"name": "t"}})
    writer.write_update(1, fake_record(), {"loss": 1.0})
    filler = fill(point)
    with pytest.raises(DiskFullError, match=r"steps/step=000002/rank=00000/tokens\.parquet: no space left on the device while writing "
                                            r"step 2 \(needed about .*, .* free on "):
        writer.write_update(2, fake_record(seed=2), {"loss": 2.0})
    assert not leftover_temp_files(run)
    filler.unlink()
    writer.write_update(2, fake_record(seed=2), {"loss": 2.0})
    writer.close()
    assert RunReader(run).steps() == [1, 2] and RunReader(run).metrics()["step"] == [1, 2]
