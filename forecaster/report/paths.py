"""Where reports go below the data directory."""

from __future__ import annotations

from pathlib import Path

from forecaster.series import SeriesKey


def report_path(reports_dir: Path, key: SeriesKey) -> Path:
    """``reports_dir/<exchange>_<BASE-QUOTE>_<timeframe>.png``."""
    symbol = key.symbol.replace("/", "-").replace(":", "_")
    return reports_dir / f"{key.exchange}_{symbol}_{key.timeframe}.png"
