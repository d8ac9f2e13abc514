"""`unipo import` / `unipo export` with an --out that cannot be written: one line naming --out,
exit status 2, no traceback, no file or folder left behind."""
import os

import pytest

from support.cli import assert_one_line_error, run_cli
from unipo.cli import main
from unipo.runs import RunWriter


@pytest.fixture
def source_run(tmp_path, fake_record):
    path = tmp_path / "source"
    writer = RunWriter.create(path, {"task": {"name": "add"}, "algorithm": {"name": "grpo", "hparams": {}}, "seed": 3})
    writer.write_update(1, fake_record(n=4, t=5, seed=1, group_size=2), {"loss": 0.5})
    writer.set_status("finished")
    return path


@pytest.fixture
def log_file(tmp_path, source_run):
    path = tmp_path / "log.jsonl"
    assert main(["export", str(source_run), "--out", str(path)]) == 0
    return path


@pytest.fixture
def read_only(monkeypatch):
    """Make folders read-only the way a read-only mount would, for root as well (chmod does not stop
    root): os.access says no, and creating anything in them raises PermissionError."""
    locked: list[str] = []
    real_access, real_open, real_mkdir = os.access, os.open, os.mkdir

    def inside(path) -> bool:
        return os.path.dirname(os.path.abspath(path)) in locked

    def access(path, mode, **kwargs):
        if os.path.abspath(path) in locked and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    def guarded(real):
        def call(path, *args, **kwargs):
            if inside(path):
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "open", guarded(real_open))
    monkeypatch.setattr(os, "mkdir", guarded(real_mkdir))

    def lock(path):
        locked.append(os.path.abspath(path))
        return path
    return lock


def test_export_to_a_directory(tmp_path, capsys, source_run):
    target = tmp_path / "folder"
    target.mkdir()
    assert_one_line_error(*run_cli(capsys, "export", str(source_run), "--out", str(target)),
                          "--out", "is a directory")
    assert list(target.iterdir()) == []


def test_export_under_a_file(tmp_path, capsys, source_run):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    assert_one_line_error(*run_cli(capsys, "export", str(source_run), "--out", str(blocker / "sub" / "log.jsonl")),
                          "--out", str(blocker), "not a directory")
    assert blocker.read_text() == "mine"


def test_export_to_a_read_only_directory(tmp_path, capsys, source_run, read_only):
    target = read_only(tmp_path / "locked")
    (tmp_path / "locked").mkdir()
    assert_one_line_error(*run_cli(capsys, "export", str(source_run), "--out", str(target / "log.jsonl")),
                          "--out", "not writable")
    assert list((tmp_path / "locked").iterdir()) == []


def test_export_library_call_refuses_a_directory_and_cleans_up(tmp_path, source_run, monkeypatch):
    import unipo.runs.canonical.export as export
    from unipo.errors import UnipoError
    from unipo.runs.canonical import export_canonical
    with pytest.raises(UnipoError, match="is a directory"):
        export_canonical(source_run, tmp_path)
    # A failure only the write reveals (a read-only mount, a full disk): no folder left made for it.

    def refuse(path, write, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(export, "write_atomically", refuse)
    with pytest.raises(UnipoError, match="cannot write there"):
        export_canonical(source_run, tmp_path / "new" / "log.jsonl")
    assert not (tmp_path / "new").exists()


def test_import_into_a_read_only_directory(tmp_path, capsys, log_file, read_only):
    locked = tmp_path / "locked"
    locked.mkdir()
    read_only(locked)
    assert_one_line_error(*run_cli(capsys, "import", str(log_file), "--out", str(locked / "run")),
                          "--out", "not writable")
    assert list(locked.iterdir()) == []


def test_import_under_a_file_or_onto_one(tmp_path, capsys, log_file):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    assert_one_line_error(*run_cli(capsys, "import", str(log_file), "--out", str(blocker / "run")),
                          "--out", str(blocker), "not a directory")
    assert_one_line_error(*run_cli(capsys, "import", str(log_file), "--out", str(blocker)),
                          "--out", "not a directory")
    assert blocker.read_text() == "mine"


def test_import_of_a_directory(tmp_path, capsys):
    assert_one_line_error(*run_cli(capsys, "import", str(tmp_path), "--out", str(tmp_path / "run")),
                          "is a directory")
    assert not (tmp_path / "run").exists()


def test_import_write_failure_is_one_line_and_leaves_nothing(tmp_path, capsys, log_file, monkeypatch):
    """Where only the attempt fails (a disk that refuses writes past every check)."""
    import unipo.runs.canonical.importer as importer

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(importer.RunWriter, "create", staticmethod(refuse))
    out = tmp_path / "a" / "b" / "run"
    assert_one_line_error(*run_cli(capsys, "import", str(log_file), "--out", str(out)), "Permission denied")
    assert not (tmp_path / "a").exists()
