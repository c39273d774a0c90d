from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from forecaster.model import TrainedModel, choose_mode, parent_val_loss
from tests.support.tiny import TINY_TRAIN

DAY = pd.Timedelta(days=1)


def test_choose_mode_rules(tiny_model: TrainedModel) -> None:
    as_of = tiny_model.train_end
    assert choose_mode(None, as_of, TINY_TRAIN) == ("full", "no parent model")
    mode, reason = choose_mode(tiny_model, as_of + 7 * DAY, TINY_TRAIN)
    assert mode == "full" and "7 days ago" in reason
    assert choose_mode(tiny_model, as_of + 6 * DAY, TINY_TRAIN)[0] == "finetune"
    parent = dataclasses.replace(tiny_model, val_loss=1.0)
    assert choose_mode(parent, as_of + DAY, TINY_TRAIN, current_val_loss=1.19)[0] == "finetune"
    mode, reason = choose_mode(parent, as_of + DAY, TINY_TRAIN, current_val_loss=1.21)
    assert mode == "full" and "degraded" in reason
    child = dataclasses.replace(tiny_model, mode="finetune", train_end=as_of + 5 * DAY)
    assert choose_mode(child, as_of + 7 * DAY, TINY_TRAIN)[0] == "full"
    with pytest.raises(ValueError, match="newer than as_of"):
        choose_mode(child, as_of, TINY_TRAIN)


def test_parent_val_loss_matches_recorded_at_its_own_as_of(tiny_model: TrainedModel, candles: pd.DataFrame) -> None:
    assert parent_val_loss(tiny_model, candles, tiny_model.train_end) == pytest.approx(tiny_model.val_loss, rel=1e-5)
    assert parent_val_loss(tiny_model, candles, tiny_model.train_end + 10 * DAY) > 0
