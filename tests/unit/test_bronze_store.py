"""The BronzeStore contract, run against every implementation (local dir and moto S3)."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cardflow.backends.blocks import save_blocks
from cardflow.backends.chooser import clear_block_cache, resolve_backends
from cardflow.bronze.store import BronzeStore, LocalBronzeStore, S3BronzeStore
from cardflow.bronze.writer import decode_lines, encode_lines, write_records
from cardflow.errors import StorageError
from cardflow.settings import load_settings


@pytest.fixture(params=["local", "s3", "s3-block"])
def store(request: pytest.FixtureRequest, tmp_path) -> BronzeStore:
    if request.param == "local":
        return LocalBronzeStore(tmp_path / "lake")
    settings = request.getfixturevalue("s3_settings")
    if request.param == "s3-block":
        # what `cardflow blocks` saves; the worker then holds only the block's name
        name = f"bronze-{uuid.uuid4().hex[:8]}"
        save_blocks(settings.model_copy(update={"s3_bucket_block": name}))
        clear_block_cache()
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        settings = load_settings(data_dir=tmp_path / "worker", s3_bucket_block=name)
        assert settings.s3_bucket is None and settings.aws_access_key_id is None
    s = resolve_backends(settings, needs={"bronze"}).store()
    assert isinstance(s, S3BronzeStore)
    return s


def test_write_read_list_exists(store: BronzeStore) -> None:
    assert isinstance(store, BronzeStore)
    assert not store.exists("p/a/x.json.gz")
    uri = store.write_bytes("p/a/x.json.gz", b"one")
    store.write_bytes("p/b/y.json.gz", b"two")
    store.write_bytes("q/z.json.gz", b"three")
    assert uri.endswith("p/a/x.json.gz")
    assert store.exists("p/a/x.json.gz")
    assert store.read_bytes("p/b/y.json.gz") == b"two"
    assert store.list_keys("p/") == ["p/a/x.json.gz", "p/b/y.json.gz"]
    assert store.list_keys("p/a") == ["p/a/x.json.gz"]
    assert len(store.list_keys()) == 3


def test_overwrite_is_atomic_replace(store: BronzeStore) -> None:
    store.write_bytes("k.json.gz", b"old")
    store.write_bytes("k.json.gz", b"new")
    assert store.read_bytes("k.json.gz") == b"new"
    assert store.list_keys() == ["k.json.gz"]


def test_missing_object_raises_storage_error(store: BronzeStore) -> None:
    with pytest.raises(StorageError) as info:
        store.read_bytes("nope.json.gz")
    assert info.value.key == "nope.json.gz"


def test_local_store_refuses_escaping_keys(tmp_path) -> None:
    with pytest.raises(StorageError):
        LocalBronzeStore(tmp_path / "lake").write_bytes("../outside", b"x")


def test_gzip_ndjson_is_deterministic(store: BronzeStore) -> None:
    records = [{"event_id": "1", "text": 'quote " backslash \\ é'}, {"event_id": "2"}]
    a = write_records(store, "d/a.json.gz", records)
    b = write_records(store, "d/a.json.gz", records)
    assert a == b and a.rows == 2
    assert encode_lines(["x"]) == encode_lines(["x"])
    assert decode_lines(store.read_bytes("d/a.json.gz"))[0].endswith('\\\\ é"}')


def test_conditional_write_refuses_a_stale_version(store: BronzeStore) -> None:
    """Fault injected: a second writer read the same version and writes after the first one."""
    from cardflow.errors import ConcurrentWriteError

    key = "bronze/_state/cas.json"
    assert store.read_versioned(key) is None
    v1 = store.write_if_version(key, b"one", None)
    with pytest.raises(ConcurrentWriteError):
        store.write_if_version(key, b"again", None)  # a first write when one already exists
    assert store.read_versioned(key) == (b"one", v1)
    v2 = store.write_if_version(key, b"two", v1)
    with pytest.raises(ConcurrentWriteError, match="another writer"):
        store.write_if_version(key, b"stale", v1)  # lost the race: must not overwrite "two"
    assert store.read_versioned(key) == (b"two", v2)


def test_records_holding_unicode_line_separators_stay_one_line_each(tmp_path) -> None:
    """U+0085, U+2028 and U+001E are data in a record (written with ensure_ascii=False), never line ends."""
    from cardflow.bronze.store import LocalBronzeStore

    store = LocalBronzeStore(tmp_path)
    records = [{"sku": "a\x85b"}, {"sku": "c\u2028d\u001ee"}, {"sku": ""}]
    write_records(store, "d/u.json.gz", records)
    assert [json.loads(line) for line in decode_lines(store.read_bytes("d/u.json.gz"))] == records


def test_the_local_store_remembers_a_bounded_number_of_folders(tmp_path, monkeypatch) -> None:
    """A long backfill writes into a folder per partition-hour: the store's memory of folders it
    made stays bounded, and a forgotten folder removed behind its back is made again."""
    import shutil

    import cardflow.bronze.store as store_module

    monkeypatch.setattr(store_module, "KNOWN_FOLDERS", 8)
    local = store_module.LocalBronzeStore(tmp_path)
    for hour in range(50):
        local.write_bytes(f"bronze/hour={hour:02d}/part.ndjson.gz", b"x")
        assert len(local._made) <= 8
    shutil.rmtree(tmp_path / "bronze" / "hour=00")
    local.write_bytes("bronze/hour=00/part.ndjson.gz", b"y")
    assert local.read_bytes("bronze/hour=00/part.ndjson.gz") == b"y"


_SEGMENT = st.text(alphabet="ab.-_0/", min_size=1, max_size=4).filter(
    lambda s: not s.startswith("/") and not s.endswith("/") and "//" not in s and s not in (".", "..")
    and all(part not in (".", "..") for part in s.split("/"))
)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.lists(st.lists(_SEGMENT, min_size=1, max_size=3).map("/".join), min_size=1, max_size=12, unique=True),
    prefix=st.sampled_from(["", "a", "a/", "b/", "a/b", "0"]),
    start_after=st.none() | st.text(alphabet="ab.-_0/", max_size=8),
)
def test_local_listing_after_a_key_is_every_later_key_under_the_prefix(
    tmp_path_factory: pytest.TempPathFactory, keys: list[str], prefix: str, start_after: str | None
) -> None:
    """The local store's start-after listing (the load cursor's) skips folders and compares names
    within a folder; whatever the layout, it lists exactly the keys S3's StartAfter would."""
    root = tmp_path_factory.mktemp("lake")
    store = LocalBronzeStore(root)
    written = []
    for key in keys:
        try:
            store.write_bytes(key, b"x")
            written.append(key)
        except (OSError, StorageError):  # a key that is also a folder of another key
            continue
    on_disk = [k for k in written if (root / k).is_file()]
    expected = sorted(k for k in on_disk if k.startswith(prefix) and (start_after is None or k > start_after))
    assert store.list_keys(prefix, start_after=start_after) == expected


@pytest.mark.parametrize("level", [1, 2, 3, 6, 9])
def test_every_backfill_level_writes_the_same_bytes_twice_in_plain_gzip(tmp_path, level: int) -> None:
    """Levels 1-3 compress with ISA-L, 4-9 with zlib: either way the same body gives the same
    bytes (part bytes are checksummed in manifests) and any gzip reader, DuckDB's included, reads
    them back exactly."""
    import gzip

    import duckdb

    from cardflow.bronze.writer import encode_body

    body = "".join(
        json.dumps({"event_id": f"{i:04d}", "text": f"row {i} é \u2028"}, ensure_ascii=False) + "\n" for i in range(500)
    ).encode("utf-8")
    data = encode_body(body, level=level)
    assert data == encode_body(body, level=level)
    assert gzip.decompress(data) == body
    path = tmp_path / f"part-{level}.json.gz"
    path.write_bytes(data)
    rows = duckdb.sql(f"SELECT count(*), max(event_id) FROM read_ndjson('{path}')").fetchall()
    assert rows == [(500, "0499")]
