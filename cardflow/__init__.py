"""cardflow: the sports-card data platform as Prefect flows.

Core library (settings, event contract, errors, event store, generator, CLI). The orchestration
lives in the top-level ``flows`` package, reusable tasks in ``tasks``.
"""

__version__ = "0.1.0"
