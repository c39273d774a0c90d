"""What the pipeline's steps need besides the database: model, training, the naive gate, the lineage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from forecaster.model.config import ModelConfig, TrainConfig, required_days
from forecaster.results.gate import GateConfig

TrainMode = Literal["full", "finetune", "auto"]
# The lineage of models and forecasts: the live daily job's, or a backtest's (kept apart in every table).
RunKind = Literal["live", "backtest"]


class JobConfig(BaseModel):
    """Everything the steps need besides the database: model, training, gate, where checkpoints go."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    run_kind: RunKind = "live"

    @model_validator(mode="after")
    def _window_fits_the_model(self) -> JobConfig:
        needed = required_days(self.model, self.train)
        if self.train.window_days < needed:
            raise ValueError(
                f"window_days={self.train.window_days} is shorter than the model needs: {needed} days "
                f"(1 + lookback {self.model.lookback} + horizon {self.model.horizon} + val_days {self.train.val_days})"
            )
        if self.train.val_days < self.model.horizon:
            raise ValueError(f"val_days ({self.train.val_days}) must be at least the horizon ({self.model.horizon})")
        return self

    @property
    def history_days(self) -> int:
        """Calendar days of candles the steps read: the training window plus the input lookback."""
        return self.train.window_days + self.model.lookback + 2
