from __future__ import annotations

import numpy as np
import pytest

from forecaster.model.metrics import (
    coverage,
    diebold_mariano,
    directional_accuracy,
    mae,
    mape,
    mase,
    rmse,
    smape,
)

ACTUAL = np.array([100.0, 110.0, 90.0, 105.0])
PREDICTED = np.array([102.0, 105.0, 95.0, 105.0])


def test_point_metrics_by_hand() -> None:
    # errors: -2, 5, -5, 0
    assert mae(ACTUAL, PREDICTED) == pytest.approx(3.0)
    assert rmse(ACTUAL, PREDICTED) == pytest.approx(np.sqrt(54 / 4))
    assert mape(ACTUAL, PREDICTED) == pytest.approx(100 * (2 / 100 + 5 / 110 + 5 / 90) / 4)
    assert smape(ACTUAL, PREDICTED) == pytest.approx(100 * (4 / 202 + 10 / 215 + 10 / 185 + 0) / 4)
    # in-sample naive one-step MAE: |2 - 1|, |4 - 2|, |1 - 4| -> 2
    assert mase(ACTUAL, PREDICTED, [1.0, 2.0, 4.0, 1.0]) == pytest.approx(1.5)
    assert smape([0.0], [0.0]) == 0.0


def test_direction_and_coverage_by_hand() -> None:
    last = np.array([101.0, 100.0, 100.0, 100.0])
    # actual moves: -, +, -, + ; predicted moves: +, +, -, +
    assert directional_accuracy(ACTUAL, PREDICTED, last) == pytest.approx(0.75)
    assert coverage(ACTUAL, ACTUAL - 1, ACTUAL + 1) == 1.0
    assert coverage(ACTUAL, [99, 111, 80, 100], [101, 120, 95, 104]) == pytest.approx(0.5)


def test_input_checks() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        mae([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="constant"):
        mase([1.0], [1.0], [3.0, 3.0])


def test_diebold_mariano_identical_errors_are_not_significant() -> None:
    errors = np.random.default_rng(0).normal(size=200)
    assert diebold_mariano(errors, errors, h=1) == (0.0, 1.0)
    rng = np.random.default_rng(1)
    _, p = diebold_mariano(rng.normal(size=300), rng.normal(size=300), h=1)
    assert p > 0.01


def test_diebold_mariano_detects_a_clearly_better_forecast() -> None:
    rng = np.random.default_rng(2)
    better, worse = rng.normal(0, 1.0, size=200), rng.normal(0, 2.0, size=200)
    statistic, p = diebold_mariano(better, worse, h=3)
    assert statistic < 0 and p < 1e-4
    statistic, p = diebold_mariano(worse, better, h=1, loss="absolute")
    assert statistic > 0 and p < 1e-4


def test_diebold_mariano_by_hand_h1() -> None:
    a, b = np.array([1.0, 2.0, 3.0, 1.0]), np.array([1.0, 1.0, 1.0, 2.0])
    d = a**2 - b**2  # 0, 3, 8, -3
    n = 4
    var = np.mean((d - d.mean()) ** 2)
    expected = d.mean() / np.sqrt(var / n) * np.sqrt((n + 1 - 2 + 0) / n)
    assert diebold_mariano(a, b, h=1)[0] == pytest.approx(expected)
