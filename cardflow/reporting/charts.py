"""The Gold report's charts: bounded aggregates drawn as Altair (Vega-Lite) specs, and the Vega
JavaScript the page inlines to render them offline."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardflow.reporting.values import utc

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

    from cardflow.reporting.report import ReportData

logger = logging.getLogger(__name__)

VEGA_BUNDLE_MARK = "vegaEmbed"
"""A name every complete vega-embed bundle defines (a cached bundle without it is rebuilt)."""


# --- charts --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportChart:
    """One chart of the page: an id for its element, a title, a sentence, and the Vega-Lite spec.

    ``rows_drawn`` is how many data rows the spec embeds; ``covers`` says what they stand for
    (``"50,225 batches"``, ``"the top 20 SKUs"``).
    """

    chart_id: str
    title: str
    description: str
    spec: dict[str, Any]
    rows_drawn: int = 0
    covers: str = ""


def _numeric(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Decimals (exact in Gold) as floats for plotting; JSON has no decimal type."""
    out = frame.copy()
    for column in columns:
        out[column] = [float(v) if isinstance(v, Decimal) else v for v in out[column]]
        out[column] = out[column].astype("float64")
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: timestamps as ISO strings, dates as YYYY-MM-DD, numpy scalars as Python."""
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def _powers_of_ten(upto: float) -> list[int]:
    """Axis ticks for a symlog scale: 0, 1, 10, 100, ... up to ``upto``."""
    ticks, tick = [0], 1
    while tick <= upto:
        ticks.append(tick)
        tick *= 10
    return ticks


_GRAIN_WORDS = {"day": ("Daily", "day (UTC)"), "week": ("Weekly", "week from Monday (UTC)"),
                "month": ("Monthly", "month (UTC)")}


def build_charts(data: ReportData) -> list[ReportChart]:
    """The report's Altair charts as Vega-Lite specs (data inlined, SVG-friendly).

    Each chart embeds the rows of one bounded query: binned aggregates or a top-N list, never one
    row per batch, SKU or order.
    """
    import altair as alt

    f = data.frames
    charts: list[ReportChart] = []

    def add(chart_id: str, title: str, text: str, chart: alt.TopLevelMixin, rows: int, covers: str) -> None:
        charts.append(ReportChart(chart_id, title, text, chart.to_dict(), rows, covers))

    revenue = _numeric(f["revenue_by_sport_over_time"], "revenue")
    grain = str(revenue["grain"].iloc[0]) if len(revenue) else "day"
    adjective, axis_title = _GRAIN_WORDS.get(grain, _GRAIN_WORDS["day"])
    revenue["period_start"] = revenue["period_start"].map(lambda v: utc(v).strftime("%Y-%m-%d"))
    orders = int(revenue["orders"].sum())
    add(
        "revenue-over-time", "Revenue over time",
        f"{adjective} revenue of orders not cancelled, stacked by sport ({orders:,} orders; days when the "
        "orders span at most 120 days, weeks up to 840 days, months beyond).",
        alt.Chart(alt.Data(values=_records(revenue[["period_start", "sport", "revenue", "orders"]])))
        .mark_area()
        .encode(
            x=alt.X("period_start:T", title=axis_title),
            y=alt.Y("sum(revenue):Q", title="revenue ($)", stack="zero"),
            color=alt.Color("sport:N"),
            tooltip=[alt.Tooltip("period_start:T", title=grain), "sport:N",
                     alt.Tooltip("sum(revenue):Q", format=",.2f"), "sum(orders):Q"],
        )
        .properties(width=900, height=280),
        len(revenue), f"{orders:,} orders",
    )

    skus = _numeric(f["top_skus_by_revenue"], "revenue")
    skus["label"] = skus["sku"] + " · " + skus["player_name"].fillna("(unknown sku)")
    add(
        "top-skus", "Top SKUs by revenue", "The 20 cards that earned the most.",
        alt.Chart(alt.Data(values=_records(skus[["label", "sku", "card_name", "sport", "revenue", "units"]])))
        .mark_bar()
        .encode(
            x=alt.X("revenue:Q", title="revenue ($)"),
            y=alt.Y("label:N", sort="-x", title=None),
            color=alt.Color("sport:N"),
            tooltip=["sku:N", "card_name:N", alt.Tooltip("revenue:Q", format=",.2f"), "units:Q"],
        )
        .properties(width=700, height=alt.Step(18)),
        len(skus), f"the top {len(skus)} SKUs",
    )

    players = _numeric(f["top_players_by_revenue"], "revenue")
    add(
        "top-players", "Top players by revenue", "The 15 players whose cards earned the most.",
        alt.Chart(alt.Data(values=_records(players[["player_name", "sport", "revenue", "units", "skus_sold"]])))
        .mark_bar()
        .encode(
            x=alt.X("revenue:Q", title="revenue ($)"),
            y=alt.Y("player_name:N", sort="-x", title=None),
            color=alt.Color("sport:N"),
            tooltip=["player_name:N", "sport:N", alt.Tooltip("revenue:Q", format=",.2f"), "units:Q", "skus_sold:Q"],
        )
        .properties(width=700, height=alt.Step(18)),
        len(players), f"the top {len(players)} players",
    )

    bins = _numeric(f["defect_rate_histogram"], "defect_pct_from", "defect_pct_to")
    batches = int(bins["batches"].sum())
    add(
        "defect-rate", "Defect rate by batch and sport",
        f"How the estimated defect rate of all {batches:,} manufacturing batches is distributed: batches "
        "per bin of equal width between the lowest and highest rate, stacked by sport. One row per batch: "
        "starter query defect_rate_by_batch.",
        alt.Chart(alt.Data(values=_records(bins[["sport", "defect_pct_from", "defect_pct_to", "batches"]])))
        .mark_bar()
        .encode(
            x=alt.X("defect_pct_from:Q", bin="binned", title="estimated defect rate (%)"),
            x2="defect_pct_to:Q",
            y=alt.Y("batches:Q", title="batches", stack="zero"),
            color=alt.Color("sport:N"),
            tooltip=["sport:N", alt.Tooltip("defect_pct_from:Q", title="from (%)", format=".3f"),
                     alt.Tooltip("defect_pct_to:Q", title="to (%)", format=".3f"), "batches:Q"],
        )
        .properties(width=700, height=280),
        len(bins), f"{batches:,} batches",
    )

    cells = _numeric(f["supply_demand_cells"], "good_units_from", "good_units_to", "units_sold_from", "units_sold_to")
    sku_count = int(cells["skus"].sum())
    ticks = _powers_of_ten(max(cells["good_units_to"].max(), cells["units_sold_to"].max()) if len(cells) else 1)
    oversold = int(cells["oversold_skus"].sum())
    add(
        "supply-demand", "Supply vs demand per SKU",
        f"All {sku_count:,} SKUs counted by estimated good units produced and units sold, both in powers of two "
        f"(symlog axes); cells outlined red hold some of the {oversold:,} oversold SKUs (listed below). "
        "One row per SKU: starter query supply_vs_demand.",
        alt.Chart(alt.Data(values=_records(cells[[
            "good_units_from", "good_units_to", "units_sold_from", "units_sold_to", "skus", "oversold_skus"
        ]])))
        .mark_rect(strokeWidth=2)
        .encode(
            x=alt.X("good_units_from:Q", title="estimated good units", scale=alt.Scale(type="symlog"),
                    axis=alt.Axis(values=ticks, format=",.0f")),
            x2="good_units_to:Q",
            y=alt.Y("units_sold_from:Q", title="units sold", scale=alt.Scale(type="symlog"),
                    axis=alt.Axis(values=ticks, format=",.0f")),
            y2="units_sold_to:Q",
            color=alt.Color("skus:Q", title="SKUs", scale=alt.Scale(type="log", scheme="blues")),
            stroke=alt.condition("datum.oversold_skus > 0", alt.value("#e45756"), alt.value("transparent")),
            tooltip=[
                alt.Tooltip("good_units_from:Q", title="good units from", format=",.0f"),
                alt.Tooltip("good_units_to:Q", title="good units below", format=",.0f"),
                alt.Tooltip("units_sold_from:Q", title="units sold from", format=",.0f"),
                alt.Tooltip("units_sold_to:Q", title="units sold below", format=",.0f"),
                "skus:Q", "oversold_skus:Q",
            ],
        )
        .properties(width=700, height=360),
        len(cells), f"{sku_count:,} SKUs",
    )

    return charts


# --- the JavaScript that renders them -------------------------------------------------------------
def vega_javascript(cache_dir: Path | None = None) -> str:
    """vega + vega-lite + vega-embed as one script, from the vl-convert-python wheel (offline).

    The Vega-Lite version matches the one Altair writes specs for. Building the bundle costs about
    1.5 s in every new process (each transform flow run writes the report), so with ``cache_dir``
    it is kept there in a file named by the vl-convert and Vega-Lite versions and read back.
    """
    return _vega_bundle(cache_dir.expanduser().resolve() if cache_dir else None)


@cache
def _vega_bundle(cache_dir: Path | None) -> str:
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    version = vl_version_for_vl_convert()
    cached = cache_dir / f"vega-bundle-{vl_convert.__version__}-{version}.js" if cache_dir else None
    if cached is not None and cached.is_file():
        text = cached.read_text(encoding="utf-8")
        if VEGA_BUNDLE_MARK in text:
            return text
        logger.warning("ignoring the unreadable cached Vega bundle %s", cached)
    bundle = vl_convert.javascript_bundle(vl_version=version).replace("</script", "<\\/script")
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + ".partial")
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(cached)
    return bundle
