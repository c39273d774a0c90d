"""Offline checks of exchange ids and ccxt unified symbols, for paths that never ask the exchange
(a CSV import): a misspelled name would otherwise store candles under a series nothing else reads."""

from __future__ import annotations

import difflib
import re

import ccxt

from forecaster.errors import InputError
from forecaster.series import DEMO

# ccxt's unified symbol: BASE/QUOTE for spot, BASE/QUOTE:SETTLE (and an expiry, strike and kind) for
# derivatives. Currency codes are letters and digits, sometimes with '.', '_' or '-' (USDC.E, 1000SHIB).
UNIFIED_SYMBOL = re.compile(
    r"([A-Za-z0-9][A-Za-z0-9._-]*)/([A-Za-z0-9][A-Za-z0-9._-]*)(?::[A-Za-z0-9][A-Za-z0-9._-]*)?"
)
# Quote currencies common enough that one with the same letters in another order is a typo (USTD for USDT).
COMMON_QUOTES = (
    "USDT",
    "USDC",
    "FDUSD",
    "TUSD",
    "BUSD",
    "DAI",
    "USD",
    "EUR",
    "GBP",
    "JPY",
    "TRY",
    "BRL",
    "AUD",
    "CAD",
    "CHF",
    "KRW",
    "BTC",
    "ETH",
    "BNB",
)


def check_exchange_id(name: str) -> str:
    """``name`` when it is a ccxt exchange id or ``demo``; else one clear error naming the closest ids."""
    if name == DEMO or name in ccxt.exchanges:
        return name
    close = difflib.get_close_matches(name.lower(), [*ccxt.exchanges, DEMO], n=2)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InputError(
        f"unknown exchange {name!r}: use a ccxt exchange id such as binance, coinbase, kraken, okx, "
        f"or demo for the offline demo{hint}"
    )


def check_symbol(symbol: str) -> str:
    """``symbol`` when it is in ccxt's unified form (``BTC/USDT``, ``BTC/USDT:USDT``); else one clear error.

    Codes written in lower case (``eth/usdt``) are refused, as is a quote that transposes the letters of a
    common one (``ETH/USTD``): both would store candles under a series that no ingest writes or reads.
    """
    match = UNIFIED_SYMBOL.fullmatch(symbol)
    if match is None:
        raise InputError(f"bad symbol {symbol!r}: use ccxt's unified form BASE/QUOTE, e.g. BTC/USDT")
    base, quote = match.groups()
    if base.islower() or quote.islower():
        raise InputError(f"bad symbol {symbol!r}: ccxt's unified codes are in capitals, e.g. {symbol.upper()}")
    if quote in COMMON_QUOTES:
        return symbol
    typo = next((known for known in COMMON_QUOTES if sorted(quote) == sorted(known)), None)
    if typo is not None:
        raise InputError(f"bad symbol {symbol!r}: unknown quote currency {quote!r}; did you mean {base}/{typo}?")
    return symbol
