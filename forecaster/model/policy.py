"""The ``auto`` training policy: full retrain or fine-tune, with the reason, as pure functions."""

from __future__ import annotations

import pandas as pd

from forecaster.model.artifact import Mode, TrainedModel
from forecaster.model.config import TrainConfig
from forecaster.model.data import CandleDataModule
from forecaster.model.features import ONE_DAY, check_as_of
from forecaster.model.losses import mse_loss


def choose_mode(
    parent: TrainedModel | None,
    as_of: pd.Timestamp,
    train_cfg: TrainConfig,
    current_val_loss: float | None = None,
) -> tuple[Mode, str]:
    """Decide how to train at ``as_of``.

    Full when there is no parent, when the parent's lineage was last fully retrained
    ``train_cfg.full_retrain_every_days`` or more days ago, or when ``current_val_loss`` (the
    parent's loss on the newest validation tail, see ``parent_val_loss``) exceeds its recorded
    ``val_loss`` by more than ``train_cfg.degrade_margin`` (relative). Fine-tune otherwise;
    without ``current_val_loss`` the degradation rule is not applied.

    Raises:
        ValueError: the parent was trained on candles after ``as_of``.
    """
    as_of = check_as_of(as_of)
    if parent is None:
        return "full", "no parent model"
    if parent.train_end > as_of:
        raise ValueError(f"parent trained up to {parent.train_end.date()} is newer than as_of {as_of.date()}")
    age = int((as_of - parent.last_full_end) / ONE_DAY)
    if age >= train_cfg.full_retrain_every_days:
        return "full", f"last full retrain {age} days ago (every {train_cfg.full_retrain_every_days} days)"
    if current_val_loss is None:
        return "finetune", f"last full retrain {age} days ago; validation loss not checked"
    limit = parent.val_loss * (1.0 + train_cfg.degrade_margin)
    if current_val_loss > limit:
        return "full", (
            f"validation loss degraded to {current_val_loss:.4g} from {parent.val_loss:.4g} "
            f"(limit {limit:.4g}, margin {train_cfg.degrade_margin:.0%})"
        )
    return "finetune", (
        f"last full retrain {age} days ago; validation loss {current_val_loss:.4g} within "
        f"{train_cfg.degrade_margin:.0%} of {parent.val_loss:.4g}"
    )


def parent_val_loss(parent: TrainedModel, candles: pd.DataFrame, as_of: pd.Timestamp) -> float:
    """The parent's loss (MSE on scaled targets) on the validation tail ending at ``as_of``, with its own scaler."""
    data = CandleDataModule(candles, as_of, parent.model_config, parent.train_config, scaler=parent.scaler())
    data.setup("validate")
    assert data.val_windows is not None
    return mse_loss(parent.network(), data.val_windows.x, data.val_windows.y)
