"""Chaos harness (``make chaos``, not part of ``make test``): kill -9 one process per round, then
check that every accepted event is in Bronze, RAW and Gold exactly once (see :mod:`chaos.harness`)."""
