"""Prefect flows, one module per flow. Flows compose tasks; they hold no SQL or I/O details."""
