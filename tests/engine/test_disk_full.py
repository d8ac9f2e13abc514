"""A full disk at a checkpoint or a step: one message naming the file, the free space and about
what was needed; no partial file left; run.json says failed (with a `failure` note) when there was
room for it; --resume works once space is freed. Real small tmpfs mounts when running as root."""
from __future__ import annotations

import errno

import pytest
from support.tmpfs import fill, leftover_temp_files, small_tmpfs  # noqa: F401 (fixture)

from engine_helpers import make_trainer, small_config
from unipo.engine import checkpoint as checkpoint_module
from unipo.errors import UnipoError
from unipo.runs import DiskFullError, RunReader


def test_a_checkpoint_that_does_not_fit_is_one_message_and_the_run_resumes(small_tmpfs):
    point = small_tmpfs("160k")  # the steps fit; the tiny model's checkpoint (~340 KiB) does not
    out = point / "run"
    config = small_config(steps=2, checkpoint_every=0)  # one checkpoint, after the last step
    with pytest.raises(DiskFullError) as caught:
        make_trainer(out, config).run()
    message = str(caught.value)
    assert isinstance(caught.value, UnipoError)  # the CLI prints it as one line, exit status 2
    assert "\n" not in message
    assert f"{out / 'checkpoints' / 'update-000002.pt'}: no space left on the device" in message
    assert f"free on {point}" in message and "needed about" in message and "KiB" in message
    assert "the partial file was removed" in message
    assert "The run is resumable: free some space, then rerun with --resume" in message
    assert "starts again from step 1" in message and "run.json marks it failed" in message
    assert caught.value.__context__ is None or caught.value.__suppress_context__  # no chained tracebacks
    assert not leftover_temp_files(out)
    assert not list((out / "checkpoints").iterdir())
    header = RunReader(out).header
    assert header["status"] == "failed"
    assert header["failure"]["resumable"] is True and header["failure"]["type"] == "DiskFullError"

    small_tmpfs.remount(point, "8m")
    result = make_trainer(out, config, resume=True).run()
    reader = RunReader(out)
    assert result.steps == 2 and reader.steps() == [1, 2] and reader.metrics()["step"] == [1, 2]
    assert reader.header["status"] == "finished" and "failure" not in reader.header
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["update-000002.pt"]


def test_a_step_that_does_not_fit_in_the_capture_process_is_one_message(small_tmpfs):
    point = small_tmpfs("256k")
    out = point / "run"
    config = small_config(steps=2, checkpoint_every=0)
    trainer = make_trainer(out, config)
    filler = fill(point)
    with pytest.raises(DiskFullError) as caught:
        trainer.run()
    message = str(caught.value)
    assert f"{out / 'steps' / 'step=000001' / 'rank=00000' / 'tokens.parquet'}: no space left on the device while writing step 1" in message
    assert "rerun with --resume" in message and "\n" not in message
    # No room left even for run.json: the message says so instead of a second traceback.
    assert "run.json could not be updated and still says running" in message
    assert not leftover_temp_files(out)
    filler.unlink()
    small_tmpfs.remount(point, "8m")  # room for the checkpoint too
    make_trainer(out, config, resume=True).run()
    reader = RunReader(out)
    assert reader.steps() == [1, 2] and reader.header["status"] == "finished"


def test_enospc_at_a_later_checkpoint_says_where_resume_continues(tmp_path, monkeypatch):
    """The same without root: torch.save writes part of the file, then the disk is full."""
    out = tmp_path / "run"
    config = small_config(steps=3, checkpoint_every=1)
    real_save = checkpoint_module.torch.save
    calls = []

    def save(state, handle):
        calls.append(1)
        if len(calls) < 2:
            return real_save(state, handle)
        handle.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos") from OSError(
            errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", save)
    with pytest.raises(DiskFullError) as caught:
        make_trainer(out, config).run()
    message = str(caught.value)
    assert message.startswith(f"{out / 'checkpoints' / 'update-000002.pt'}: no space left on the device while "
                              f"writing the checkpoint of step 2 (needed about ")
    assert "it continues after step 1, its last checkpoint; run.json marks it failed" in message
    assert not leftover_temp_files(out)
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["update-000001.pt"]
    assert RunReader(out).header["failure"]["resume_from_step"] == 1

    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    make_trainer(out, config, resume=True).run()
    reader = RunReader(out)
    assert reader.steps() == [1, 2, 3] and reader.header["status"] == "finished"
