"""Ingestion: exchange and CSV candles into the ``candles`` table, validated, idempotent."""
