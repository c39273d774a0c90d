"""Flow parameters are validated by their types: a bad value is refused in one line that names where it is."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flows.params import DailyParams
from forecaster.cli.common import validation_message


@pytest.mark.parametrize(
    ("values", "where", "message"),
    [
        ({"pairs": []}, "pairs", "at least 1 item"),
        ({"pairs": [{"exchange": "binance", "symbol": "BTCUSDT"}]}, "pairs.0.symbol", "bad symbol 'BTCUSDT'"),
        ({"pairs": [{"exchange": "nosuchex", "symbol": "BTC/USDT"}]}, "pairs.0.exchange", "unknown exchange"),
        ({"as_of": "2999-01-01"}, "as_of", "2999-01-01 lies in the future"),
        ({"catch_up_days": -1}, "catch_up_days", "greater than or equal to 0"),
        ({"job": {"train": {"window_days": 100}}}, "job", "window_days=100 is shorter than the model needs"),
        ({"job": {"model": {"horizon": 0}}}, "job.model.horizon", "greater than or equal to 1"),
        ({"job": {"model": {"horizon": 10_000}}}, "job.model.horizon", "less than or equal to"),
        ({"job": {"model": {"features": ["log_return", "rsi"]}}}, "job.model.features", "unknown feature(s) ['rsi']"),
    ],
)
def test_bad_flow_parameters_are_refused_in_one_line(values, where, message):
    with pytest.raises(ValidationError) as caught:
        DailyParams.model_validate(values)
    line = validation_message(caught.value)
    assert "\n" not in line and message in line, line
    assert line.startswith(f"{where}: "), line
