"""Reusable Prefect tasks and the small libraries they wrap, one concern per module."""
