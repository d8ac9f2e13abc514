"""Runs read from an S3 URL (fsspec/s3fs) served by a real local S3 server: moto on 127.0.0.1."""
from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest

from unipo.runs import RankWriter, RunReader, RunWriter
from unipo.runs.query import query

pytestmark = pytest.mark.slow

s3fs = pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch, tmp_path):
    # Credentials and endpoint from the environment, as a user's would be.
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_ENDPOINT_URL": s3_endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                       "UNIPO_REMOTE_CACHE": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(key, value)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    bucket = f"runs-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    fs.mkdir(bucket)
    return fs, bucket


@pytest.fixture
def local_run(tmp_path, fake_record):
    path = tmp_path / "grpo"
    writer = RunWriter.create(path, {"world_size": 2, "task": {"name": "add"}})
    other = RankWriter(path, 1)
    for step in (1, 2):
        writer.write_update(step, fake_record(n=6, t=9, seed=step, empty=(2,)), {"loss": 0.5 * step})
        other.write_step(step, fake_record(n=4, t=9, seed=10 + step))
    writer.close()
    return path


def _plain(table: pa.Table) -> pa.Table:
    return table.cast(pa.schema([pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
                                 for f in table.schema], metadata=table.schema.metadata))


def test_a_run_on_s3_reads_as_the_local_one(s3, local_run):
    fs, bucket = s3
    fs.put(str(local_run), f"{bucket}/team/grpo", recursive=True)
    local, remote = RunReader(local_run), RunReader(f"s3://{bucket}/team/grpo")
    assert remote.is_remote and remote.header == local.header
    assert remote.steps() == [1, 2] and remote.step_ranks(2) == [0, 1]
    assert remote.metrics() == local.metrics()
    for step in (1, 2):
        assert _plain(remote.step(step, include_empty_responses=True)).equals(
            _plain(local.step(step, include_empty_responses=True)))
        assert remote.responses(step).equals(local.responses(step))
    assert remote.token_page(2, [1, 7], ["logprob"]).equals(local.token_page(2, [1, 7], ["logprob"]))
    sql = "SELECT step, rank, count(*) AS n, sum(logprob) AS s FROM tokens GROUP BY ALL ORDER BY ALL"
    assert query(f"s3://{bucket}/team/grpo", sql).equals(query(local_run, sql))


def test_a_shard_with_one_file_uploaded_is_not_a_step_yet(s3, local_run):
    fs, bucket = s3
    fs.put(str(local_run), f"{bucket}/grpo", recursive=True)
    fs.rm(f"{bucket}/grpo/steps/step=000002/rank=00001/tokens.parquet")
    remote = RunReader(f"s3://{bucket}/grpo")
    assert remote.step_ranks(2) == [0] and remote.missing_ranks(2) == [1]
    assert remote.responses(2).num_rows == 6


def test_serve_s3_url_lists_and_serves_the_runs(s3, local_run):
    from fastapi.testclient import TestClient

    from unipo.server.app import create_app

    fs, bucket = s3
    fs.put(str(local_run), f"{bucket}/many/grpo", recursive=True)
    with TestClient(create_app([f"s3://{bucket}/many"], poll_interval_s=0.05)) as client:
        runs = client.get("/api/runs").json()
        names = [run.get("id") or run.get("name") for run in (runs["runs"] if isinstance(runs, dict) else runs)]
        assert names == ["grpo"]
        answer = client.get("/api/runs/grpo/steps/2/responses/7")
        assert answer.status_code == 200, answer.text
    assert np.isfinite(RunReader(local_run).response(2, 7).column("logprob").to_numpy()).all()


def test_a_bad_url_is_one_clear_error(s3):
    from unipo.errors import UnipoError
    from unipo.server.registry import RunRegistry

    _, bucket = s3
    with pytest.raises(UnipoError, match=rf"s3://{bucket}/nothing-here: nothing there"):
        RunRegistry([f"s3://{bucket}/nothing-here"])
