"""Retries for exchange calls: transient ccxt errors only, with exponential backoff."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from forecaster.errors import ExchangeUnavailable

T = TypeVar("T")
# ccxt's OperationFailed means "may succeed if retried": its NetworkError covers timeouts, 429
# (DDoSProtection, RateLimitExceeded) and 5xx (ExchangeNotAvailable), its BadResponse unreadable
# answers. ExchangeError (BadSymbol, BadRequest, ...) is permanent and fails at once.
TRANSIENT = (ccxt.OperationFailed,)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for transient exchange errors."""

    attempts: int = 5
    initial_delay_s: float = 1.0
    max_delay_s: float = 30.0


def call_exchange(fn: Callable[..., T], *args: Any, policy: RetryPolicy, **kwargs: Any) -> T:
    """Call ``fn``, retrying transient ccxt errors; after the last attempt raise ExchangeUnavailable."""
    retrying = Retrying(
        retry=retry_if_exception_type(TRANSIENT),
        wait=wait_exponential(multiplier=policy.initial_delay_s, max=policy.max_delay_s),
        stop=stop_after_attempt(policy.attempts),
        reraise=True,
    )
    try:
        return retrying(fn, *args, **kwargs)
    except TRANSIENT as exc:
        raise ExchangeUnavailable(
            f"{_name(fn)} failed {policy.attempts} times: {type(exc).__name__}: {_short(exc)}"
        ) from exc


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", "exchange call")


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""
