import numpy as np

from unipo.server.lttb import lttb_indices, lttb_multi


def test_keeps_first_last_and_extremes_of_a_spiky_series():
    rng = np.random.default_rng(0)
    x = np.arange(10_000, dtype=float)
    y = rng.normal(size=10_000)
    y[1234] = 50.0   # a loss spike
    y[8765] = -40.0  # a dip
    chosen = lttb_indices(x, y, 200)
    assert chosen[0] == 0 and chosen[-1] == 9_999
    assert 1234 in chosen and 8765 in chosen
    assert len(chosen) <= 200
    assert np.all(np.diff(chosen) > 0)


def test_short_series_is_returned_whole():
    assert lttb_indices(np.arange(5.0), np.arange(5.0), 10).tolist() == [0, 1, 2, 3, 4]


def test_nan_is_never_chosen_over_a_finite_value():
    y = np.sin(np.linspace(0, 20, 5_000))
    y[::3] = np.nan
    chosen = lttb_indices(np.arange(5_000.0), y, 100)
    inner = chosen[1:-1]
    assert np.isfinite(y[inner]).all()


def test_follows_a_line_exactly():
    # On a straight line every triangle has zero area; any choice must still stay on the line.
    x = np.arange(1000.0)
    chosen = lttb_indices(x, 2 * x + 1, 50)
    assert len(chosen) <= 50 and chosen[0] == 0 and chosen[-1] == 999


def test_multi_column_choice_is_shared_and_keeps_each_columns_extremes():
    rng = np.random.default_rng(1)
    x = np.arange(100_000, dtype=float)
    a, b = rng.normal(size=100_000), rng.normal(size=100_000)
    a[50_000], b[70_000] = 100.0, -100.0
    chosen = lttb_multi(x, {"a": a, "b": b}, 2_000)
    assert len(chosen) <= 2_000
    assert {0, 50_000, 70_000, 99_999} <= set(chosen.tolist())
