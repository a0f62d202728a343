"""The fast path and ``validate_envelope`` agree on random multi-row groups (seeded; the hypothesis
version is ``test_eventstore_partitions_property.py``)."""

from __future__ import annotations

import random

import pytest

from tests.fastpath_oracle import assert_fast_path_agrees, row_payload


@pytest.mark.parametrize("seed", range(40))
def test_fast_path_agrees_with_the_contract_on_random_groups(seed: int) -> None:
    rng = random.Random(seed)
    assert_fast_path_agrees([row_payload(rng) for _ in range(rng.randint(2, 12))])
