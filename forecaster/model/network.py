"""The architecture alone: a bidirectional LSTM, a GRU and a linear multi-horizon head."""

from __future__ import annotations

import torch
from torch import nn


class BiLSTMGRU(nn.Module):
    """BiLSTM (returning sequences) -> dropout -> GRU -> dropout -> linear head of ``horizon`` outputs.

    The head predicts every horizon at once (direct multi-horizon), from the GRU's last state.
    """

    def __init__(
        self, n_features: int, horizon: int, lstm_hidden: int = 64, gru_hidden: int = 32, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, lstm_hidden, batch_first=True, bidirectional=True)
        self.dropout_lstm = nn.Dropout(dropout)
        self.gru = nn.GRU(2 * lstm_hidden, gru_hidden, batch_first=True)
        self.dropout_gru = nn.Dropout(dropout)
        self.head = nn.Linear(gru_hidden, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # B: batch, L: lookback, F: features, H: LSTM hidden, G: GRU hidden, K: horizon
        # x: (B, L, F)
        seq, _ = self.lstm(x)  # -> (B, L, 2H)
        seq = self.dropout_lstm(seq)  # -> (B, L, 2H)
        seq, _ = self.gru(seq)  # -> (B, L, G)
        last = self.dropout_gru(seq[:, -1, :])  # -> (B, G)
        return self.head(last)  # -> (B, K)
