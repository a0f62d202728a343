"""Property (hypothesis): on any multi-row group of valid and mutated orders, the backfill's fast
path lands exactly the rows ``validate_envelope`` accepts, byte for byte, and quarantines the others
with the contract's reason."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fastpath_oracle import MUTATIONS, assert_fast_path_agrees
from tests.unit.test_eventstore_partitions import order

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=12)


@st.composite
def _payload(draw: st.DrawFn) -> dict[str, Any]:
    payload = order(
        customer_id=draw(st.one_of(st.just("CUST-1"), _text)),
        sku=draw(st.one_of(st.just("SKU-1"), _text)),
        quantity=draw(st.integers(-(10**6), 10**20)),
        price={"units": draw(st.integers(-(2**64), 2**64)), "scale": draw(st.integers(0, 20))},
    )
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), max_size=2)):
        payload.update(mutation)
    return {k: v for k, v in payload.items() if v is not ...}


@settings(max_examples=150, deadline=None)
@given(st.lists(_payload(), min_size=2, max_size=10))
def test_fast_path_and_validate_envelope_agree(payloads: list[dict[str, Any]]) -> None:
    assert_fast_path_agrees(payloads)
