from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from forecaster.model import TrainedModel, choose_mode, parent_val_loss
from forecaster.model.train import seed_everything, train
from tests.support.tiny import TINY_MODEL, TINY_TRAIN

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


def test_parent_val_loss_matches_recorded_at_its_own_as_of(candles: pd.DataFrame, as_of: pd.Timestamp) -> None:
    # without tail epochs (the default) the served weights are those whose validation loss is recorded
    seed_everything(7)
    model = train(candles, as_of, TINY_MODEL, TINY_TRAIN)
    assert TINY_TRAIN.tail_epochs == 0
    assert parent_val_loss(model, candles, model.train_end) == pytest.approx(model.val_loss, rel=1e-5)
    assert parent_val_loss(model, candles, model.train_end + 10 * DAY) > 0


def test_the_tail_epochs_train_the_served_weights_through_the_as_of_day(
    candles: pd.DataFrame, as_of: pd.Timestamp
) -> None:
    # the served weights have trained on the validation tail: their loss there is below the recorded one
    seed_everything(7)
    model = train(candles, as_of, TINY_MODEL, TINY_TRAIN.model_copy(update={"tail_epochs": 2}))
    assert parent_val_loss(model, candles, model.train_end) < model.val_loss
