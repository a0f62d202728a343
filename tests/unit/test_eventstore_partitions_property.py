"""Property (hypothesis): on any multi-row group of valid and mutated orders, the backfill's fast
path lands exactly the rows ``validate_envelope`` accepts, byte for byte, and quarantines the others
with the contract's reason."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cardflow.sources.eventstore.partitions import _line_ok, text_checks_pass, text_profile
from tests.fastpath_oracle import MUTATIONS, assert_fast_path_agrees
from tests.unit.test_eventstore_partitions import ids, order, sql_line

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


_digits = st.text("0123456789", min_size=1, max_size=2)


@st.composite
def _calendar_and_amount(draw: st.DrawFn) -> dict[str, Any]:
    """Orders with any digits in the timestamp's fields and any amount the exact pattern admits."""
    y = draw(st.integers(0, 9999))
    mo, d, h, mi, s = (draw(st.integers(0, 99)) for _ in range(5))
    return order(
        order_ts=f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{draw(st.integers(0, 999999)):06d}+00:00",
        quantity=draw(st.integers(-(10**18) + 1, 10**18 - 1)),
        price={"units": draw(st.integers(-(10**18) + 1, 10**18 - 1)), "scale": draw(st.integers(0, 18))},
    )


@settings(max_examples=400, deadline=None)
@given(_calendar_and_amount())
def test_the_strict_body_pattern_accepts_only_what_the_exact_check_accepts(payload: dict[str, Any]) -> None:
    """The whole-body pattern (no checks after it) is a shortcut: anything it accepts, the exact
    per-line pattern plus its calendar and amount checks accept too."""
    profile = text_profile("OrderCreated")
    assert profile is not None
    body = sql_line(payload, event_id=ids(1)[0]).encode()
    if profile.strict.fullmatch(body):
        match = profile.pattern.fullmatch(body[:-1])
        assert _line_ok(match, profile), body


def test_the_strict_body_pattern_takes_a_generated_group_in_one_call() -> None:
    """Ordinary events (no February 29, small amounts) pass the one-call check; a leap day or an
    amount near the limit only falls back to the exact per-line check, which still passes it."""
    profile = text_profile("OrderCreated")
    assert profile is not None
    ordinary = "".join(sql_line(order(order_id=f"O{i}"), event_id=e) for i, e in enumerate(ids(50))).encode()
    assert profile.strict.fullmatch(ordinary)
    assert text_checks_pass(ordinary, 50, profile)
    leap = sql_line(order(order_ts="2024-02-29T00:00:00.000000+00:00"), event_id=ids(1)[0]).encode()
    big = sql_line(order(quantity=10**9, price={"units": 5, "scale": 0}), event_id=ids(1)[0]).encode()
    for body in (leap, big):
        assert not profile.strict.fullmatch(body)
        assert text_checks_pass(body, 1, profile)
