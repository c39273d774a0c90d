"""Retries for exchange calls: transient ccxt errors only, with exponential backoff that honours
the exchange's ``Retry-After`` on rate limits (HTTP 429 and 418)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import ccxt
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from forecaster.errors import ExchangeUnavailable

T = TypeVar("T")
# ccxt's OperationFailed means "may succeed if retried": its NetworkError covers timeouts, 429
# (DDoSProtection, RateLimitExceeded) and 5xx (ExchangeNotAvailable), its BadResponse unreadable
# answers. ExchangeError (BadSymbol, BadRequest, ...) is permanent and fails at once.
TRANSIENT = (ccxt.OperationFailed,)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for transient exchange errors: ``attempts`` calls in all, waits from
    ``initial_delay_s`` doubling up to ``max_delay_s`` (a longer ``Retry-After`` is capped there too)."""

    attempts: int = 5
    initial_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"retry attempts must be at least 1, not {self.attempts}")
        if self.initial_delay_s < 0 or self.max_delay_s < self.initial_delay_s:
            raise ValueError(
                f"retry delays must satisfy 0 <= initial ({self.initial_delay_s}) <= max ({self.max_delay_s})"
            )


class WaitBackoffOrRetryAfter:
    """Tenacity wait: the exponential backoff, or the exchange's ``Retry-After`` when it asks for longer
    after a rate-limit answer; never more than ``max_delay_s``."""

    def __init__(self, policy: RetryPolicy, exchange: ccxt.Exchange | None) -> None:
        self._backoff = wait_exponential(multiplier=policy.initial_delay_s, max=policy.max_delay_s)
        self._max = policy.max_delay_s
        self._exchange = exchange

    def __call__(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome is not None else None
        if self._exchange is None or not isinstance(error, ccxt.DDoSProtection):
            return backoff
        asked = retry_after_s(self._exchange.last_response_headers)
        return min(max(backoff, asked or 0.0), self._max)


def retry_after_s(headers: Any) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), None when absent."""
    value = headers.get("Retry-After") if headers is not None and hasattr(headers, "get") else None
    if value is None:
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def call_exchange(fn: Callable[..., T], *args: Any, policy: RetryPolicy, **kwargs: Any) -> T:
    """Call ``fn``, retrying transient ccxt errors; after the last attempt raise ExchangeUnavailable.

    ``fn`` is a method of a ccxt exchange or a function taking the exchange first: its last
    response headers supply ``Retry-After``.
    """
    exchange = _exchange_of(fn, args)
    retrying = Retrying(
        retry=retry_if_exception_type(TRANSIENT),
        wait=WaitBackoffOrRetryAfter(policy, exchange),
        stop=stop_after_attempt(policy.attempts),
        reraise=True,
    )
    try:
        return retrying(fn, *args, **kwargs)
    except TRANSIENT as exc:
        where = f"{exchange.id} " if exchange is not None else ""
        raise ExchangeUnavailable(
            f"{where}{_name(fn)} failed {policy.attempts} times: {type(exc).__name__}: {_short(exc)}"
        ) from exc


def _exchange_of(fn: Callable[..., Any], args: tuple[Any, ...]) -> ccxt.Exchange | None:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, ccxt.Exchange):
        return owner
    return args[0] if args and isinstance(args[0], ccxt.Exchange) else None


def _name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__name__", "exchange call")).lstrip("_")


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""
