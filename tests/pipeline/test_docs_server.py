"""The docs server without a browser: which pages it finds, what it serves, what it refuses."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gfm.errors import GfmError
from pipeline.docs_server import ASSETS_DIR, CSP, DocsServer, dbt_docs_stale, find_pages, offline_html

V_OLD, V_NEW = "v20261130t013200_ab12cd", "v20261201t013200_cd34ef"

GX_HEAD = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css" />
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<link rel="shortcut icon" href="./static/images/favicon.ico" type="image/x-icon"/>
</head><body>
<img
  class="NO-CACHE"
  src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20261203T071241Z"
  alt="Great Expectations"
/>
<script>$(document).ready(function () {});</script>
<a href="https://greatexpectations.io">Great Expectations</a>
</body></html>"""


def _reports(root: Path) -> Path:
    reports = root / "reports"
    (reports / "dbt_docs").mkdir(parents=True)
    (reports / "dbt_docs" / "index.html").write_text("<h1>dbt</h1>")
    (reports / "dbt_docs" / "manifest.json").write_text("{}")
    docs = reports / "validation" / "data_docs"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text(GX_HEAD)
    for version in (V_OLD, V_NEW):
        (reports / "eval" / version).mkdir(parents=True)
        (reports / "eval" / version / "report.html").write_text(f"<h1>Evaluation {version}</h1>")
    (reports / "eval" / "v20991231t000000_ffffff").mkdir()  # newer, but no report in it
    (root / "secret.txt").write_text("outside the reports")
    return reports


@pytest.fixture
def site(tmp_path: Path) -> Iterator[DocsServer]:
    server = DocsServer(_reports(tmp_path)).start()
    yield server
    server.close()


def test_offline_html_points_cdn_files_at_local_copies_and_drops_the_rest() -> None:
    page = offline_html(GX_HEAD, "/data-docs/")
    assert 'href="/_assets/bootstrap/4.3.1/css/bootstrap.min.css"' in page
    assert '<script src="/_assets/jquery/3.7.1/jquery.min.js"></script>' in page
    assert 'src="/_assets/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-x"' in page
    assert 'src="/data-docs/static/images/logo-long-vector.svg"' in page
    assert "vega" not in page and "bootstrap-dark" not in page  # nothing here serves them
    assert "$(document).ready" in page and 'href="./static/images/favicon.ico"' in page
    assert '<a href="https://greatexpectations.io">' in page  # a link is not a request
    loads = [line for line in page.splitlines() if ("src=" in line or "<link" in line) and "://" in line]
    assert loads == []


def test_shipped_assets_match_their_manifest_hashes() -> None:
    manifest = json.loads((ASSETS_DIR / "assets.json").read_text())
    assert len(manifest["assets"]) >= 10
    for entry in manifest["assets"]:
        data = (ASSETS_DIR / entry["file"]).read_bytes()
        assert base64.b64encode(hashlib.sha384(data).digest()).decode() == entry["sha384"], entry["file"]
        assert (ASSETS_DIR / entry["license_file"]).is_file()
    css = (ASSETS_DIR / "fontawesome/6.6.0/css/all.min.css").read_text()
    assert (
        ASSETS_DIR / "fontawesome/6.6.0/webfonts/fa-solid-900.woff2"
    ).is_file() and "webfonts/fa-solid-900.woff2" in css


def test_find_pages_takes_the_newest_version_with_a_report(tmp_path: Path) -> None:
    pages, missing = find_pages(_reports(tmp_path))
    assert [(p.name, p.mount) for p in pages] == [
        ("dbt docs", "/dbt-docs/"),
        ("Data Docs", "/data-docs/"),
        ("evaluation report", "/report/"),
    ]
    assert pages[-1].note == V_NEW and missing == []
    pages, missing = find_pages(tmp_path / "empty")
    assert pages == [] and len(missing) == 3 and "gfm transform" in missing[0]


def test_pages_are_served_with_a_same_origin_policy(site: DocsServer) -> None:
    urls = site.urls()
    assert urls["evaluation report"] == f"{site.url}report/"
    report = httpx.get(urls["evaluation report"])
    assert report.status_code == 200 and V_NEW in report.text
    assert report.headers["content-security-policy"] == CSP and "default-src 'self'" in CSP
    assert report.headers["content-type"] == "text/html; charset=utf-8"
    assert httpx.get(site.url + "dbt-docs/manifest.json").json() == {}
    data_docs = httpx.get(urls["Data Docs"]).text
    assert "/_assets/jquery/3.7.1/jquery.min.js" in data_docs and "code.jquery.com" not in data_docs
    asset = httpx.get(site.url + "_assets/jquery/3.7.1/jquery.min.js")
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
    font = httpx.get(site.url + "_assets/fontawesome/6.6.0/webfonts/fa-solid-900.woff2")
    assert font.headers["content-type"] == "font/woff2"
    start = httpx.get(site.url).text
    assert all(f'href="{mount}"' in start for mount in ("/dbt-docs/", "/data-docs/", "/report/"))
    redirect = httpx.get(site.url + "report")
    assert redirect.status_code == 301 and redirect.headers["location"] == "/report/"
    assert httpx.head(urls["dbt docs"]).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "report/../../secret.txt",
        "report/%2e%2e/%2e%2e/secret.txt",
        "dbt-docs/..%2f..%2fsecret.txt",
        "nothing/",
        "report/missing.html",
    ],
)
def test_nothing_outside_the_pages_is_served(site: DocsServer, path: str) -> None:
    response = httpx.get(site.url + path)
    assert response.status_code == 404 and "outside the reports" not in response.text


def test_missing_pages_are_named_on_the_start_page(tmp_path: Path) -> None:
    server = DocsServer(tmp_path / "reports").start()
    try:
        text = httpx.get(server.url).text
        assert "Not built yet" in text and "gfm evaluate" in text
        assert any("gfm transform" in line for line in server.describe())
    finally:
        server.close()


def test_dbt_docs_are_stale_when_missing_or_older_than_the_warehouse(tmp_path: Path) -> None:
    reports, warehouse = tmp_path / "reports", tmp_path / "gfm.duckdb"
    assert dbt_docs_stale(reports, warehouse)
    index = reports / "dbt_docs" / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text("docs")
    assert not dbt_docs_stale(reports, warehouse)  # no warehouse: nothing to regenerate from
    warehouse.write_text("db")
    os.utime(index, (time.time() - 60, time.time() - 60))
    assert dbt_docs_stale(reports, warehouse)


def test_a_taken_port_is_a_clear_error(site: DocsServer, tmp_path: Path) -> None:
    port = int(site.url.rsplit(":", 1)[1].strip("/"))
    with pytest.raises(GfmError, match=f"cannot serve the docs on 127.0.0.1:{port}"):
        DocsServer(tmp_path / "reports", port=port)
