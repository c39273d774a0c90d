import pandas as pd

from forecaster.ingest.clean import clean_candles, find_gaps, rows_to_frame

DAY = 86_400_000


def clean(rows, now_ms=100 * DAY):
    return clean_candles(rows_to_frame(rows), DAY, now_ms)


def test_valid_candles_are_kept_sorted_in_utc():
    result = clean([[2 * DAY, 2, 3, 1, 2.5, 7], [DAY, 1, 2, 0.5, 1.5, 10]])
    assert list(result.frame["close"]) == [1.5, 2.5]
    assert str(result.frame["ts"].dt.tz) == "UTC"
    assert result.frame["ts"].iloc[0] == pd.Timestamp("1970-01-02", tz="UTC")
    assert result.rejected == [] and result.duplicates == 0


def test_each_kind_of_bad_candle_is_refused_with_its_reason():
    rows = [
        [DAY, 1, 2, 1.5, 1.2, 1],  # low above open
        [2 * DAY, 1, 1.1, 0.5, 1.5, 1],  # high below close
        [3 * DAY, -1, 2, -2, 1, 1],  # negative price
        [4 * DAY, "nan", 2, 1, 1, 1],  # not a number
        [5 * DAY + 1, 1, 2, 1, 1, 1],  # not aligned
        [6 * DAY, 1, 2, 1, 1, -5],  # negative volume
        [7 * DAY, 1, 2, 1, 1, 5],  # good
    ]
    result = clean(rows)
    assert [r.reason for r in result.rejected] == [
        "low above open or close",
        "high below open or close",
        "price is not positive",
        "price is missing or not a number",
        "open time not aligned to the timeframe",
        "volume is missing or negative",
    ]
    assert len(result.frame) == 1


def test_repeated_candle_is_kept_once_and_conflicting_ones_are_refused():
    result = clean([[DAY, 1, 2, 1, 1, 1], [DAY, 1, 2, 1, 1, 1], [2 * DAY, 1, 2, 1, 1, 1], [2 * DAY, 1, 3, 1, 1, 1]])
    assert result.duplicates == 1
    assert len(result.frame) == 1
    assert result.rejected[0].reason == "two different candles for the same open time"


def test_still_open_candle_is_dropped():
    # the candle opened at day 5 closes at day 6: with the clock inside day 5 it is still open
    result = clean([[4 * DAY, 1, 2, 1, 1, 1], [5 * DAY, 1, 2, 1, 1, 1]], now_ms=5 * DAY + 3_600_000)
    assert result.still_open == 1
    assert list(result.frame["ts"]) == [pd.Timestamp("1970-01-05", tz="UTC")]
    closed_exactly = clean([[5 * DAY, 1, 2, 1, 1, 1]], now_ms=6 * DAY)
    assert closed_exactly.still_open == 0


def test_gaps_are_found_inside_the_batch_and_after_the_last_stored_candle():
    ts = pd.Series(pd.to_datetime(["2024-01-05", "2024-01-06", "2024-01-09", "2024-01-11"], utc=True))
    gaps = find_gaps(ts, pd.Timedelta(days=1), previous=pd.Timestamp("2024-01-02", tz="UTC"))
    assert [(str(g.first.date()), str(g.last.date()), g.missing) for g in gaps] == [
        ("2024-01-03", "2024-01-04", 2),
        ("2024-01-07", "2024-01-08", 2),
        ("2024-01-10", "2024-01-10", 1),
    ]
    assert find_gaps(ts[:2], pd.Timedelta(days=1)) == []
