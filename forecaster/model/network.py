"""The architecture alone: a bidirectional LSTM, a GRU and a linear multi-horizon head."""

from __future__ import annotations

import torch
from torch import nn


class BiLSTMGRU(nn.Module):
    """BiLSTM (returning sequences) -> dropout -> GRU -> dropout -> linear head.

    The head predicts every horizon at once (direct multi-horizon), from the GRU's last state: ``horizon``
    point outputs, and with ``quantile_head`` also a lower and an upper quantile of the cumulative scaled
    target per horizon, laid out as ``[point (K) | lower (K) | upper (K)]`` (``split_outputs``).
    """

    def __init__(
        self,
        n_features: int,
        horizon: int,
        lstm_hidden: int = 64,
        gru_hidden: int = 32,
        dropout: float = 0.2,
        quantile_head: bool = False,
    ) -> None:
        super().__init__()
        self.horizon = horizon
        self.lstm = nn.LSTM(n_features, lstm_hidden, batch_first=True, bidirectional=True)
        self.dropout_lstm = nn.Dropout(dropout)
        self.gru = nn.GRU(2 * lstm_hidden, gru_hidden, batch_first=True)
        self.dropout_gru = nn.Dropout(dropout)
        self.head = nn.Linear(gru_hidden, horizon * (3 if quantile_head else 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # B: batch, L: lookback, F: features, H: LSTM hidden, G: GRU hidden, K: horizon, O: K or 3K
        # x: (B, L, F)
        seq, _ = self.lstm(x)  # -> (B, L, 2H)
        seq = self.dropout_lstm(seq)  # -> (B, L, 2H)
        seq, _ = self.gru(seq)  # -> (B, L, G)
        last = self.dropout_gru(seq[:, -1, :])  # -> (B, G)
        return self.head(last)  # -> (B, O)


def split_outputs(outputs: torch.Tensor, horizon: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The point outputs (B, K) and, with a quantile head, the band (B, K, 2: lower, upper), else None."""
    point = outputs[:, :horizon]
    if outputs.shape[1] == horizon:
        return point, None
    band = outputs[:, horizon:].reshape(len(outputs), 2, horizon).transpose(1, 2)  # (B, K, 2)
    return point, band


def pinball_loss(band: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
    """Mean pinball loss of ``band`` (B, K, 2) at levels alpha/2 and 1 - alpha/2 for the cumulative sums of
    the scaled targets ``y`` (B, K): the band of horizon h targets ``y_1 + ... + y_h``."""
    cumulative = torch.cumsum(y, dim=1).unsqueeze(-1)  # (B, K, 1)
    taus = torch.tensor([alpha / 2, 1.0 - alpha / 2], dtype=band.dtype, device=band.device)  # (2,)
    error = cumulative - band  # (B, K, 2)
    return torch.maximum(taus * error, (taus - 1.0) * error).mean()
