"""The daily job's stages for one series, over the library: plan the owed days, train, forecast, evaluate.

Each step opens its own short transactions and is idempotent for a given as-of day: a model
version already trained for that day is reused, a forecast set already written is left alone.
The CLI, the Prefect flows and the backtest all call these functions.
"""
