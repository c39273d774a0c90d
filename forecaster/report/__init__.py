"""Reports on stored forecasts, one job a module.

``accuracy`` (the queries), ``markdown`` (summaries and tables), ``plots`` (PNG charts) and ``paths``
(where files go). Every function takes the SQLAlchemy ``Session`` and the output path from its caller.
"""
