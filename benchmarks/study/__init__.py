"""The hierarchy-vs-flat study (``benchmarks/hierarchy_vs_flat.py``): arms, protocol, grid runner, statistics, report.

Docs: docs/training.md#hierarchy-vs-flat. Modules: ``arms`` (the arms and a cell's trainer config), ``runner``
(one cell in a worker), ``grid`` (the tuning/report protocol and the resumable grid), ``stats`` (pure statistics),
``report`` (tables and plot from results.json).
"""

__all__ = ["arms", "grid", "report", "runner", "stats"]
