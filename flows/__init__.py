"""Prefect flows of cardflow, one module per flow."""
