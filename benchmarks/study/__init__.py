"""The hierarchy-vs-flat study (``benchmarks/hierarchy_vs_flat.py``): arms, protocol, grid runner, statistics, report.

Docs: docs/training.md#hierarchy-vs-flat. Modules: ``arms`` (the arms and a run's trainer config), ``runner``
(one run in a worker: train on the K mix, play each K's panel), ``protocol`` (the grid, the shared settings, the
sweep and its winner), ``grid`` (the resumable tuning/report runner), ``stats`` (pure statistics), ``report``
(tables and plot from results.json).
"""

__all__ = ["arms", "grid", "protocol", "report", "runner", "stats"]
