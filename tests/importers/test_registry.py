"""Importers register like algorithm components: built-ins by module scan, others by the
`unipo.importers` entry-point group; a broken plug-in is named in a warning, never fatal."""
from __future__ import annotations

import sys
import textwrap

import pytest

from unipo.errors import UnipoError
from unipo.importers import registry


@pytest.fixture
def fresh_registry(monkeypatch):
    registry.importers()  # built-ins registered once per process; plug-ins are looked up again
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_loaded", False)


def _plugin(tmp_path, monkeypatch, body: str, name="good"):
    package = tmp_path / f"plug_{name}"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(body))
    dist = tmp_path / f"plug_{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: plug-{name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[unipo.importers]\n{name} = plug_{name}\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_an_entry_point_importer_is_found_and_detected(tmp_path, monkeypatch, fresh_registry):
    _plugin(tmp_path, monkeypatch, '''
        from unipo.importers.parts import Header, Response, Step
        from unipo.importers.registry import importer

        @importer("myfmt", summary="my format", detect=lambda p: 1.0 if p.suffix == ".my" else 0.0,
                  maps={"x": "reward"}, cannot_provide=("tokens",))
        def read(source, context):
            yield Header({"name": "mine"})
            yield Step(1, "line 1", [Response(where="line 1", prompt_text="q", response_text="a", reward=2.0)])
    ''')
    assert "myfmt" in registry.names() and "reference" in registry.names()
    source = tmp_path / "run.my"
    source.write_text("x")
    assert registry.detect(source).describe()["cannot_provide"] == ["tokens"]
    from unipo.importers.run import import_run
    from unipo.runs import RunReader
    report = import_run(source, tmp_path / "run")
    assert RunReader(tmp_path / "run").responses(1).column("reward").to_pylist() == [2.0]
    assert report.responses == 1
    sys.modules.pop("plug_good", None)


def test_a_broken_plugin_warns_and_the_rest_loads(tmp_path, monkeypatch, fresh_registry):
    _plugin(tmp_path, monkeypatch, "raise RuntimeError('boom')\n", name="bad")
    with pytest.warns(UserWarning, match="importer plug-in 'bad'.*boom"):
        assert "verl" in registry.names()
    sys.modules.pop("plug_bad", None)


def test_unknown_format_and_ties_are_explained(tmp_path):
    with pytest.raises(UnipoError, match="unknown format 'nope'; known: .*reference"):
        registry.get("nope")
    (tmp_path / "x.bin").write_bytes(b"\x00")
    with pytest.raises(UnipoError, match="not in a format UNIPO recognises"):
        registry.detect(tmp_path / "x.bin")
