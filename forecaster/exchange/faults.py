"""The loopback server's fault hooks: for each request, the faults it is served with (latency, an HTTP
error, a malformed, truncated, empty or unordered answer) and a symbol's candle faults (dropped, duplicated,
corrupt). The server applies them; arming them is test equipment (``tests/support/faults.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class HttpFailure:
    """An HTTP error answer, in place of the data."""

    status: int
    retry_after: float | None
    code: int | None


@dataclass(frozen=True)
class RequestFaults:
    """The faults one request takes."""

    latency: float = 0.0
    failure: HttpFailure | None = None
    malformed: bool = False
    truncated: bool = False
    empty: bool = False
    unordered: bool = False


@dataclass(frozen=True)
class RowFaults:
    """A snapshot of the candle faults of one symbol, keyed by open time in milliseconds."""

    dropped: frozenset[int] = frozenset()
    duplicated: frozenset[int] = frozenset()
    corrupted: Mapping[int, Mapping[str, float]] = field(default_factory=dict)


class FaultSource(Protocol):
    """What a ``LoopbackExchange`` asks before answering: the faults of one request, and of a symbol's candles."""

    def take(self, path: str) -> RequestFaults: ...

    def rows(self, symbol: str) -> RowFaults: ...


class NoFaults:
    """Every answer as it is."""

    def take(self, path: str) -> RequestFaults:
        return RequestFaults()

    def rows(self, symbol: str) -> RowFaults:
        return RowFaults()


NO_FAULTS = NoFaults()
