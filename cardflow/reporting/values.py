"""Values as the report reads them from either warehouse: missing markers and UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def missing(value: Any) -> bool:
    """None, NaN, NaT or pandas NA (NaT is a datetime instance, so test it before any isinstance)."""
    import pandas as pd

    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other non-scalars
        return False


def utc(value: Any) -> datetime | None:
    import pandas as pd

    if missing(value):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
    return ts.to_pydatetime()
