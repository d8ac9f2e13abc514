"""Stored aggregates (unipo.runs.aggregates): the per-response sums and colour-column stats a
shard stores at write time give the summary the scan of the step's tokens would give, for a
one-rank, a two-rank and a streamed step; without them (older shards) the summary scans."""
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest

from unipo.runs import RankWriter, RunReader, RunWriter
from unipo.runs import aggregates
from unipo.runs.aggregates import AGGREGATE_PREFIX, AGGREGATES_KEY, SAMPLE_SIZE
from unipo.server.step_pages import token_page_table
from unipo.server.step_summary import build_summary

spec = importlib.util.spec_from_file_location("fake_steps", Path(__file__).parents[1] / "runs" / "fake_steps.py")
fakes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fakes)


@pytest.fixture(autouse=True)
def _sketch_small_shards(monkeypatch):
    # The fixtures' steps are small: store their column sketches anyway (the stored path under test).
    monkeypatch.setattr(aggregates, "MIN_SKETCH_TOKENS", 0)


def _record(n=12, t=10, seed=1, empty=(5,)):
    record = fakes.fake_record(n=n, t=t, seed=seed, group_size=4, empty=empty)
    record.terms["grad_coef"] = -np.asarray(record.terms["weight"]) * np.asarray(record.terms["advantage"])
    return record


class _Scanning:
    """The same reader without stored aggregates: what the summary computed before them."""

    def __init__(self, reader):
        self._reader = reader

    def __getattr__(self, name):
        if name == "step_aggregates":
            raise AttributeError(name)
        return getattr(self._reader, name)


def _both(run: Path, step: int = 1):
    reader = RunReader(run)
    stored = build_summary(SimpleNamespace(reader=reader, path=run), step)
    scanned = build_summary(SimpleNamespace(reader=_Scanning(reader), path=run), step)
    return stored, scanned


def _assert_same(stored, scanned, *, exact_stats=True):
    assert stored.extra["stored"] and not scanned.extra["stored"]
    for key, values in scanned.rows.items():
        np.testing.assert_allclose(np.asarray(stored.rows[key], float), np.asarray(values, float),
                                   rtol=1e-12, atol=1e-9, err_msg=key)
    for name in ("grad_coef", "token_objective", "entropy"):
        got, want = stored.stats[name], scanned.stats[name]
        assert got["count"] == want["count"] and got["nulls"] == want["nulls"], name
        assert got["min"] == want["min"] and got["max"] == want["max"], name
        assert got["mean"] == pytest.approx(want["mean"], rel=1e-9, abs=1e-12)
        if exact_stats:
            assert "approximate" not in got
            assert got["quantiles"] == pytest.approx(want["quantiles"], rel=1e-12, abs=1e-12)
            assert got["histogram"]["counts"] == want["histogram"]["counts"], name
    assert stored.stats["entropy_rank"]["count"] == scanned.stats["entropy_rank"]["count"]


def _write_one_rank(run: Path):
    with RunWriter.create(run, {"name": "one"}) as writer:
        writer.write_update(1, _record(n=20, seed=3, empty=(2, 11)), {"policy_loss": 0.1})


def test_one_rank_step_stores_the_scanned_summary(tmp_path):
    _write_one_rank(tmp_path / "one")
    stored, scanned = _both(tmp_path / "one")
    _assert_same(stored, scanned)
    # The aggregates are not terms: responses() leaves them out.
    assert not any(c.startswith(AGGREGATE_PREFIX) for c in RunReader(tmp_path / "one").responses(1).column_names)
    # Entropy ranks of a page: from the stored sample, the same as from the scanned sorted entropies.
    page = RunReader(tmp_path / "one").token_page(1, [0, 1, 3], ["entropy"])
    ranked = token_page_table(stored, page, ["entropy", "entropy_rank"]).column("entropy_rank")
    np.testing.assert_array_equal(ranked.to_numpy(zero_copy_only=False),
                                  token_page_table(scanned, page, ["entropy", "entropy_rank"])
                                  .column("entropy_rank").to_numpy(zero_copy_only=False))


def test_two_rank_step_merges_each_ranks_aggregates(tmp_path):
    run = tmp_path / "two"
    RunWriter.create(run, {"world_size": 2})
    RankWriter(run, 0).write_step(1, _record(seed=1))
    RankWriter(run, 1).write_step(1, _record(seed=2, empty=(0, 9)))
    stored, scanned = _both(run)
    assert len(stored.rows["response"]) == 24 and stored.rows["token_count"][12] == 0
    _assert_same(stored, scanned)


def test_streamed_step_sums_each_part_once(tmp_path):
    run = tmp_path / "streamed"
    writer = RunWriter.create(run, {"world_size": 2})
    record = _record(seed=4)
    with writer.step_stream(1) as sink:
        for start in (0, 4, 8):
            sink.append(fakes.part_of(record, start, start + 4))
    RankWriter(run, 1).write_step(1, _record(seed=5))
    stored, scanned = _both(run)
    _assert_same(stored, scanned)


def test_a_step_past_the_sample_says_its_quantiles_are_approximate(tmp_path):
    run = tmp_path / "large"
    writer = RunWriter.create(run, {"name": "large"})
    record = _record(n=120, t=120, seed=6, empty=())
    assert sum(len(v) for v in record.tokens) > SAMPLE_SIZE
    with writer.step_stream(1) as sink:
        for start in range(0, 120, 40):
            sink.append(fakes.part_of(record, start, start + 40))
    stored, scanned = _both(run)
    _assert_same(stored, scanned, exact_stats=False)
    values = np.sort(RunReader(run).token_columns(1, ["grad_coef"]).column("grad_coef").to_numpy())
    got = stored.stats["grad_coef"]
    assert got["approximate"] is True
    for q in ("0.02", "0.5", "0.98"):
        # Each approximate quantile lies between the exact ones 1% of ranks either side.
        low, high = np.quantile(values, [max(float(q) - 0.01, 0), min(float(q) + 0.01, 1)])
        assert low <= got["quantiles"][q] <= high, (q, low, got["quantiles"][q], high)
    assert sum(got["histogram"]["counts"]) + got["histogram"]["below"] + got["histogram"]["above"] == \
        pytest.approx(got["count"], abs=3)


def test_shards_without_aggregates_are_scanned(tmp_path):
    # A shard written before stored aggregates: the summary scans the tokens, same numbers.
    run = tmp_path / "old"
    _write_one_rank(run)
    path = next(run.glob("steps/step=*/rank=*/responses.parquet"))
    table = pq.read_table(path)
    table = table.drop_columns([c for c in table.column_names if c.startswith(AGGREGATE_PREFIX)])
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != AGGREGATES_KEY}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    reader = RunReader(run)
    assert reader.step_aggregates(1) is None
    summary = build_summary(SimpleNamespace(reader=reader, path=run), 1)
    assert not summary.extra["stored"]
    whole = reader.step(1)
    ids = whole.column("response").to_numpy()
    weight = np.nan_to_num(whole.column("weight").to_numpy(zero_copy_only=False).astype(np.float64))
    np.testing.assert_allclose(summary.rows["weight_sum"], np.bincount(ids, weight, minlength=20), atol=1e-9)
    assert summary.entropy_sorted is not None and summary.stats["entropy"]["count"] > 0
    grad = whole.column("grad_coef").to_numpy(zero_copy_only=False)
    assert summary.stats["grad_coef"]["quantiles"]["0.5"] == pytest.approx(float(np.nanquantile(grad, 0.5)))


def test_small_shards_store_no_sketch_and_are_scanned(tmp_path, monkeypatch):
    monkeypatch.setattr(aggregates, "MIN_SKETCH_TOKENS", 10**6)
    _write_one_rank(tmp_path / "small")
    reader = RunReader(tmp_path / "small")
    assert reader.step_aggregates(1) is None
    summary = build_summary(SimpleNamespace(reader=reader, path=tmp_path / "small"), 1)
    assert not summary.extra["stored"] and summary.entropy_sorted is not None
