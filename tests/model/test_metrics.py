from __future__ import annotations

import numpy as np
import pytest

from forecaster.model import metrics
from forecaster.model.metrics import diebold_mariano


def test_diebold_mariano_is_the_only_metric_left_here() -> None:
    # accuracy figures have one definition, the SQL score views (forecaster.results.scores)
    public = {name for name, value in vars(metrics).items() if callable(value) and value.__module__ == metrics.__name__}
    assert {name for name in public if not name.startswith("_")} == {"diebold_mariano"}


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
