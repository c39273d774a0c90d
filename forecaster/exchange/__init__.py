"""Exchanges: ccxt clients, and the loopback Binance-compatible server for tests and the demo."""
