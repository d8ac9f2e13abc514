"""The columnar step encoder on hand-built tables: ordering, empty responses, nulls, flags."""
import numpy as np
import orjson
import pyarrow as pa

from unipo.server.json_response import dumps
from unipo.server.step_payload import step_payload


def table(rows):
    names = rows[0].keys()
    return pa.table({name: [row[name] for row in rows] for name in names})


def row(response, position, value, *, reward=1.0, clipped=0.0, text="t"):
    return {"step": 7, "rollout": 3, "epoch": 1, "minibatch": 0, "response": response, "prompt": 0,
            "group": 5, "prompt_text": "p", "response_text": f"r{response}", "reward": reward,
            "response_length": 2, "truncated": False, "position": position, "token": text,
            "logprob": value, "clipped": clipped}


def test_rows_come_back_in_response_then_position_order():
    shuffled = table([row(1, 1, -0.4), row(0, 1, -0.2), row(1, 0, -0.3), row(0, 0, -0.1)])
    body = orjson.loads(dumps(step_payload(shuffled, 7)))
    # float32 values are written in their shortest float32 form: -0.1f reads back as -0.1.
    assert body["tokens"]["logprob"] == [-0.1, -0.2, -0.3, -0.4]
    assert body["tokens"]["offsets"] == [0, 2, 4]
    assert body["responses"]["response_text"] == ["r0", "r1"]
    assert (body["step"], body["rollout"], body["epoch"], body["minibatch"]) == (7, 3, 1, 0)


def test_empty_response_placeholder_has_no_tokens_but_keeps_its_reward():
    rows = [row(0, 0, -0.1), row(1, -1, None, reward=0.5), row(2, 0, -0.3)]
    body = orjson.loads(dumps(step_payload(table(rows), 7)))
    assert body["responses"]["response"] == [0, 1, 2]
    assert body["responses"]["reward"] == [1.0, 0.5, 1.0]
    assert body["tokens"]["offsets"] == [0, 1, 1, 2]
    assert body["tokens"]["position"] == [0, 0]


def test_nan_and_null_become_json_null_and_flags_are_integers():
    rows = [row(0, 0, float("nan"), clipped=1.0), row(0, 1, None, clipped=0.0)]
    body = orjson.loads(dumps(step_payload(table(rows), 7)))
    assert body["tokens"]["logprob"] == [None, None]
    assert body["tokens"]["clipped"] == [1, 0]


def test_float32_values_round_trip_exactly():
    values = np.array([-1.2345678e-3, 3.4028235e38, -0.0, 1e-45], dtype=np.float32)
    rows = [row(0, i, 0.0) for i in range(4)]
    t = table(rows).set_column(14, "logprob", pa.array(values, pa.float32()))
    body = orjson.loads(dumps(step_payload(t, 7)))
    assert np.array_equal(np.asarray(body["tokens"]["logprob"], dtype=np.float32), values)


def test_entropy_rank_is_the_rank_quantile_over_real_tokens_with_ties_low_and_nulls():
    from unipo.server.step_payload import entropy_rank
    # Sorted non-null values: 0.1, 0.2, 0.2, 0.5, 0.9 (count 5): ranks 0, 1, 1 (tie -> lower), 3, 4 over 4.
    values = np.array([0.5, np.nan, 0.2, 0.1, 0.2, 0.9])
    assert np.array_equal(entropy_rank(values), [0.75, np.nan, 0.25, 0.0, 0.25, 1.0], equal_nan=True)
    assert np.isnan(entropy_rank(np.array([np.nan, np.nan]))).all()
    assert entropy_rank(np.array([np.nan, 2.0])).tolist()[1] == 0.0
    assert entropy_rank(np.array([], dtype=np.float32)).shape == (0,)


def test_entropy_rank_column_skips_placeholders_and_is_null_where_entropy_is():
    rows = [row(1, 1, -0.1), row(0, 0, -0.1), row(2, -1, None), row(1, 0, -0.1), row(0, 1, -0.1)]
    # Entropy per row (response, position): (1,1)=0.3, (0,0)=None, placeholder=None, (1,0)=0.3, (0,1)=0.1
    shuffled = table(rows).append_column("entropy", pa.array([0.3, None, None, 0.3, 0.1], pa.float32()))
    body = orjson.loads(dumps(step_payload(shuffled, 7)))
    # Token order (0,0), (0,1), (1,0), (1,1): real entropies 0.1, 0.3, 0.3 -> ranks 0, 1/2, 1/2.
    assert body["tokens"]["entropy_rank"] == [None, 0.0, 0.5, 0.5]
    assert body["tokens"]["offsets"] == [0, 2, 4, 4]
    # No entropy column stored: no rank column either (the browser then has nothing to filter on).
    assert "entropy_rank" not in step_payload(table(rows), 7)["tokens"]
