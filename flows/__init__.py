"""Prefect flows, one module per flow: thin compositions of tasks."""
