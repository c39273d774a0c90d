"""The network's outputs with and without the quantile head, and the head's pinball loss."""

from __future__ import annotations

import pytest
import torch

from forecaster.model.module import QUANTILE_LOSS_WEIGHT, ForecastModule
from forecaster.model.network import BiLSTMGRU, pinball_loss, split_outputs


def test_quantile_head_widens_only_the_dense_output() -> None:
    x = torch.randn(5, 10, 2)  # (B, L, F)
    plain = BiLSTMGRU(2, 3, lstm_hidden=8, gru_hidden=4).eval()
    wide = BiLSTMGRU(2, 3, lstm_hidden=8, gru_hidden=4, quantile_head=True).eval()
    assert plain(x).shape == (5, 3) and wide(x).shape == (5, 9)
    assert wide.head.weight.shape == (9, 4) and plain.head.weight.shape == (3, 4)
    same = {name: p.shape for name, p in plain.state_dict().items() if not name.startswith("head.")}
    assert same == {name: p.shape for name, p in wide.state_dict().items() if not name.startswith("head.")}
    point, band = split_outputs(plain(x), 3)
    assert point.shape == (5, 3) and band is None


def test_split_outputs_layout() -> None:
    point, band = split_outputs(torch.arange(9.0).reshape(1, 9), 3)  # [point | lower | upper]
    assert band is not None
    assert point.tolist() == [[0.0, 1.0, 2.0]]
    assert band[0, :, 0].tolist() == [3.0, 4.0, 5.0] and band[0, :, 1].tolist() == [6.0, 7.0, 8.0]


def test_pinball_loss_by_hand() -> None:
    y = torch.tensor([[1.0, 2.0]])  # cumulative targets: 1 (h1), 3 (h2)
    band = torch.tensor([[[0.0, 2.0], [4.0, 3.0]]])  # (B, K, 2): lower, upper per horizon
    # alpha 0.2: taus 0.1 and 0.9. h1: 0.1 x (1 - 0) = 0.1; 0.1 x (2 - 1) = 0.1 (above the upper: 1 - 0.9)
    # h2: lower 4 above 3: 0.9 x 1 = 0.9; upper 3 equals 3: 0. Mean of the four: 0.275
    assert float(pinball_loss(band, y, alpha=0.2)) == pytest.approx(0.275)


def test_objective_adds_the_weighted_pinball_loss() -> None:
    module = ForecastModule(1, 2, lstm_hidden=4, gru_hidden=3, quantile_head=True, interval_level=0.8)
    outputs = torch.tensor([[0.5, 1.0, 0.0, 4.0, 2.0, 3.0]])  # point (0.5, 1.0), band h1 (0, 2), h2 (4, 3)
    y = torch.tensor([[1.0, 2.0]])
    point_mse = ((0.5 - 1.0) ** 2 + (1.0 - 2.0) ** 2) / 2
    assert float(module.objective(outputs, y)) == pytest.approx(point_mse + QUANTILE_LOSS_WEIGHT * 0.275)
    plain = ForecastModule(1, 2, lstm_hidden=4, gru_hidden=3)
    assert float(plain.objective(outputs[:, :2], y)) == pytest.approx(point_mse)
