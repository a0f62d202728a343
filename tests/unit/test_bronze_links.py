"""``ui_link``: what report and Data Docs artifacts link to -- the local file on the embedded setup,
a presigned URL of the object uploaded to the Bronze bucket when S3 is configured (moto here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from cardflow.backends.chooser import resolve_backends
from cardflow.bronze.links import PRESIGN_SECONDS, site_key, ui_link
from cardflow.bronze.store import LocalBronzeStore
from cardflow.settings import Settings

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _site(root: Path) -> Path:
    (root / "validations").mkdir(parents=True)
    (root / "index.html").write_text("<html>index</html>", encoding="utf-8")
    (root / "validations" / "run-1.html").write_text("<html>run 1</html>", encoding="utf-8")
    return root / "index.html"


def test_embedded_setup_links_the_local_file(tmp_path: Path) -> None:
    report = tmp_path / "report" / "index.html"
    report.parent.mkdir()
    report.write_text("<html/>", encoding="utf-8")
    link = ui_link(LocalBronzeStore(tmp_path / "lake"), report, site_key("report", "index.html"))
    assert link.url == report.resolve().as_uri()
    assert link.expires_at is None and link.location == "file"
    assert not (tmp_path / "lake").exists()  # nothing copied into Bronze


def test_s3_uploads_the_file_and_links_a_presigned_url(s3_settings: Settings, tmp_path: Path) -> None:
    store = resolve_backends(s3_settings, needs={"bronze"}).store()
    report = tmp_path / "index.html"
    report.write_text("<html>Gold report ✓</html>", encoding="utf-8")
    link = ui_link(store, report, site_key("report", "index.html"), now=NOW)

    assert link.location == f"s3://{s3_settings.s3_bucket}/_site/report/index.html"
    assert link.expires_at is not None and (link.expires_at - NOW).total_seconds() == PRESIGN_SECONDS
    assert link.console_url is None  # an S3-compatible endpoint has no AWS console
    response = httpx.get(link.url, timeout=10)  # what a browser does with the artifact's link
    assert response.status_code == 200
    assert response.text == "<html>Gold report ✓</html>"
    assert response.headers["content-type"].startswith("text/html")
    assert not [k for k in store.list_keys(s3_settings.s3_prefix) if k.startswith("_site")]  # outside Bronze


def test_a_site_is_mirrored_once_and_its_index_always(s3_settings: Settings, tmp_path: Path) -> None:
    store = resolve_backends(s3_settings, needs={"bronze"}).store()
    index = _site(tmp_path / "site")
    link = ui_link(store, index, site_key("data_docs", "index.html"), site_root=index.parent)
    assert sorted(store.list_keys("_site/")) == ["_site/data_docs/index.html", "_site/data_docs/validations/run-1.html"]
    assert httpx.get(link.url, timeout=10).text == "<html>index</html>"

    puts: list[str] = []
    original = store.client.put_object
    store.client.put_object = lambda **kw: (puts.append(kw["Key"]), original(**kw))[1]  # type: ignore[method-assign]
    (index.parent / "validations" / "run-2.html").write_text("<html>run 2</html>", encoding="utf-8")
    index.write_text("<html>index, 2 runs</html>", encoding="utf-8")
    link = ui_link(store, index, site_key("data_docs", "index.html"), site_root=index.parent)
    assert sorted(puts) == ["_site/data_docs/index.html", "_site/data_docs/index.html",
                            "_site/data_docs/validations/run-2.html"]  # fmt: skip
    assert httpx.get(link.url, timeout=10).text == "<html>index, 2 runs</html>"
