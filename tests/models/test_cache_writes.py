import os
import time

import pytest

from unipo.models.cache import COMPLETE_MARKER, build_atomically, cache_key, is_complete


def fill(files: dict):
    def build(directory):
        for name, text in files.items():
            (directory / name).write_text(text)
        return {"built": True}

    return build


def test_a_build_appears_whole_under_its_final_name(tmp_path):
    final = tmp_path / "entry"
    assert build_atomically(final, fill({"weights": "w"})) is True
    assert is_complete(final) and (final / "weights").read_text() == "w"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]
    assert (final / COMPLETE_MARKER).read_text().strip().startswith("{")


def test_a_failing_build_leaves_nothing(tmp_path):
    def explode(directory):
        (directory / "half").write_text("x")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        build_atomically(tmp_path / "entry", explode)
    assert list(tmp_path.iterdir()) == []


def test_the_first_finished_build_wins(tmp_path):
    final = tmp_path / "entry"
    build_atomically(final, fill({"weights": "first"}))
    assert build_atomically(final, fill({"weights": "second"})) is False
    assert (final / "weights").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]


def test_folders_of_killed_builds_are_removed_once_stale(tmp_path):
    stale, recent = tmp_path / ".tmp-entry-old", tmp_path / ".tmp-entry-new"
    stale.mkdir()
    recent.mkdir()
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    build_atomically(tmp_path / "entry", fill({}))
    assert not stale.exists() and recent.exists()


def test_cache_key_ignores_dict_order_but_not_values():
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})
