"""Thin Prefect flows and tasks over the ``forecaster`` library."""
