"""forecaster: a scheduled daily forecasting job for crypto markets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("forecaster")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
