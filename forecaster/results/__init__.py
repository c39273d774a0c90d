"""Forecasts and their scores in the database: writing, evaluating, and the naive gate."""
