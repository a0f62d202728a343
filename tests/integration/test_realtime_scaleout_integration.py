"""Competing consumers: several ``cardflow consume`` processes on one quorum queue.

Contract: adding processes is how the bridge scales, and it keeps the exactly-once effect. With
two consumers draining one queue and one of them SIGKILLed mid-stream, the broker redelivers what
the dead one held to the survivor; Bronze ends with every event (none lost), no object written
twice, every copy of an event byte-identical apart from ingested_at (so Silver's event_id dedupe
is lossless), nothing dead-lettered and the queue empty.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.sources.mq.outgoing import outgoing_for_event
from cardflow.sources.mq.topology import Topology
from tests.integration.test_realtime_consumer_integration import (
    _bronze,
    _consumer_cmd,
    _depth,
    _env,
    _publish,
    _quarantine,
    _settings,
)
from tests.integration.test_realtime_consumer_integration import topology as _topology_fixture

topology = _topology_fixture  # the same fresh-queue fixture (parametrized by delivery limit)

pytestmark = pytest.mark.integration


def _manifests(lake: Path) -> int:
    return len(list(lake.rglob("_manifests/**/*.json"))) if lake.exists() else 0


@pytest.mark.parametrize("topology", [10], indirect=True)  # a kill counts as a delivery
def test_two_competing_consumers_one_sigkilled_land_every_event_once(
    tmp_path: Path, topology: Topology
) -> None:
    n = 6000
    events = list(EventGenerator(GeneratorConfig(events=n, seed=33)))
    duplicates = [outgoing_for_event(e) for e in events[::15]]  # at-least-once upstream
    messages = [outgoing_for_event(e) for e in events]
    _publish(topology, messages[:3000] + duplicates + messages[3000:])
    settings = _settings(tmp_path, topology)
    lake = settings.lake_dir
    args = ("--batch-size", "200", "--prefetch", "400", "--batch-seconds", "0.3")

    def start(*extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            _consumer_cmd(*args, *extra),
            env=_env(settings),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def wait_for_manifests(count: int) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _manifests(lake) < count and doomed.poll() is None:
            time.sleep(0.01)

    doomed = start()
    wait_for_manifests(2)  # the first consumer has landed (and acks) batches
    survivor = start("--idle-exit", "4")
    wait_for_manifests(10)  # both consume; the first one holds a prefetch of unacked messages
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    assert doomed.returncode == -signal.SIGKILL, doomed.stderr.read().decode()[-2000:]
    out, err = survivor.communicate(timeout=240)
    assert survivor.returncode == 0, err.decode()[-3000:]
    stats = json.loads(out.decode().strip().splitlines()[-1])

    published = len(messages) + len(duplicates)
    assert 0 < stats["messages"] < published  # both consumers took part of the stream
    assert _depth(topology.queue) == 0
    assert _depth(topology.dead_letter_queue) == 0
    records, digests = _bronze(lake)
    assert {r["event_id"] for r in records} == {e["event_id"] for e in events}  # none lost
    assert len(set(digests.values())) == len(digests)  # no object written twice
    assert not _quarantine(lake)
    copies: dict[str, set[str]] = {}
    for r in records:
        copies.setdefault(r["event_id"], set()).add(
            json.dumps({k: v for k, v in r.items() if k != "ingested_at"}, sort_keys=True)
        )
    assert all(len(v) == 1 for v in copies.values())  # any copy is the same event: dedupe is lossless
