"""Every page a person opens, rendered in headless Chromium with nothing reachable but 127.0.0.1.

``gfm serve`` (Swagger UI at /docs) and ``gfm docs --serve`` (dbt docs, Data
Docs, evaluation report) run as the user would start them, on loopback, over data built here with
the real components: the hand-made raw batch through ``run_transform`` (dbt + the GX gates, which
write the Data Docs), a small report through the report writer, random vectors indexed into
Milvus Lite and published. Chromium resolves no host but 127.0.0.1; each test asserts on the
rendered DOM, and the last one checks the browser's own network log: no request left the machine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from chromium import Chromium, Page, find_chromium
from fixtures.index_suite_module import load_index_suite

from gfm.config import Config

pytestmark = pytest.mark.slow  # ~1-2 min: dbt build and docs, Milvus Lite, two servers, a browser

REPO = Path(__file__).resolve().parents[2]
GFM = Path(sys.executable).with_name("gfm")
V1 = load_index_suite().V1  # the index suite's version: the service's vectors

RECOMMENDATIONS = "/v1/users/{user_id}/recommendations"
SIMILAR = "/v1/items/{item_id}/similar"
MODELS = {"Popularity": 0.101, "2T": 0.234, "2T-HGNN": 0.345}  # HR@10 shown for audiobooks


@pytest.fixture(scope="module")
def chromium_binary() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (`apt-get install -y chromium`; .ci/run installs it)")
    return binary


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _default_sigint() -> None:
    """In the child: Ctrl-C's default action, even where the test runner ignores SIGINT (a runner
    started in the background does, and a child inherits it; Python then never raises
    KeyboardInterrupt, so the server could not be stopped as a person stops it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(proc: subprocess.Popen[str]) -> int:
    """Ctrl-C, as a person stops a server; return its exit code."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def _tiny_report(version: str) -> dict[str, object]:
    from embedding_jobs.evaluate.protocol import SEGMENTS, TIERS
    from embedding_jobs.evaluate.report import target_checks

    def cell(value: float) -> dict[str, float | int]:
        return {"hr@10": value, "mrr": value / 3, "coverage": 0.5, "n_users": 12}

    models = {}
    for name, hr in MODELS.items():
        by_type = {"audiobook": cell(hr), "podcast": cell(hr + 0.1)}
        models[name] = {
            "by_type": by_type,
            "by_segment": {s: by_type for s in SEGMENTS},
            "by_tier": {tier: by_type for tier in TIERS},
        }
    report: dict[str, object] = {
        "version": version,
        "source": "synthetic",
        "train_end": "2026-10-17T00:00:00+00:00",
        "protocol": {"coverage_k": 100},
        "models": models,
        "inputs": {"note": "built by tests/integration/test_browser.py"},
    }
    report["targets"] = target_checks(report, "hr@10")
    return report


@pytest.fixture(scope="module")
def pages_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with a promoted warehouse (and its Data Docs) and one evaluation report."""
    from fixtures.raw_batch import write_raw_batch

    from embedding_jobs.evaluate.report import write_report
    from warehouse import run_transform

    cfg = Config.load(data_dir=tmp_path_factory.mktemp("pages") / "data", environ={})
    write_raw_batch(cfg.raw_dir)
    run_transform(cfg, show_progress=False)  # raw gate -> dbt build -> marts gate: Data Docs
    write_report(_tiny_report(V1), cfg.reports_dir / "eval" / V1, "hr@10")
    return cfg.data_dir


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``gfm serve`` on a free loopback port over one published version; yields its base URL."""
    from vector_index import close_clients, ops

    cfg = Config.load(data_dir=tmp_path_factory.mktemp("svc") / "data", environ={})
    load_index_suite().write_export(cfg, "two_tower", V1)
    ops.index_version(cfg, "two_tower", V1)
    ops.publish_version(cfg, "two_tower", V1)
    close_clients()  # the service process owns the Milvus Lite file
    port = _free_port()
    log = (cfg.data_dir / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(GFM), "--data-dir", str(cfg.data_dir), "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(),
        text=True,
        preexec_fn=_default_sigint,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"gfm serve did not come up: {(cfg.data_dir / 'serve.log').read_text()[-3000:]}")
        time.sleep(0.3)
    yield url
    _stop(proc)
    log.close()


@dataclass
class DocsSite:
    start: str
    urls: dict[str, str]
    proc: subprocess.Popen[str]


@pytest.fixture(scope="module")
def docs_site(pages_dir: Path) -> Iterator[DocsSite]:
    """``gfm docs --serve`` (it generates the dbt docs first); yields the URLs it printed."""
    proc = subprocess.Popen(
        [str(GFM), "--data-dir", str(pages_dir), "docs", "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
        text=True,
        preexec_fn=_default_sigint,
    )
    assert proc.stdout is not None
    printed: list[str] = []
    start, urls = None, {}
    while start is None or len(urls) < 3:  # the start page, then one line per page
        line = proc.stdout.readline()
        if not line:
            pytest.fail("gfm docs --serve exited:\n" + "".join(printed))
        printed.append(line)
        if match := re.search(r"gfm docs on (http://\S+)", line):
            start = match.group(1)
        elif start and (match := re.match(r"\s+(.+?)\s+(http://\S+)", line)):
            urls[match.group(1)] = match.group(2)
    yield DocsSite(start, urls, proc)
    assert _stop(proc) == 0
    assert "stopped" in proc.stdout.read()


@pytest.fixture(scope="module")
def browser(chromium_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    chrome = Chromium(chromium_binary, tmp_path_factory.mktemp("chromium"))
    yield chrome
    chrome.close()


def _loopback_only(urls: list[str]) -> list[str]:
    """The URLs that name a host other than 127.0.0.1 (data:, blob:, about: load nothing)."""
    return [
        u
        for u in urls
        if urlsplit(u).scheme in {"http", "https", "ws", "wss"} and urlsplit(u).hostname != "127.0.0.1"
    ]


def _open(browser: Chromium, url: str) -> Page:
    page = browser.page()
    page.goto(url)
    return page


def _block(path: str) -> str:
    """JS for the Swagger UI operation block of ``path``."""
    return f"document.querySelector('.opblock-summary-path[data-path=\"{path}\"]').closest('.opblock')"


# ---- the service's OpenAPI pages ------------------------------------------------------------


def test_swagger_ui_lists_every_endpoint(browser: Chromium, service: str) -> None:
    page = _open(browser, service + "/docs")
    shown = page.wait_for(
        "Array.from(document.querySelectorAll('.opblock-summary-path')).map(e => e.dataset.path)"
    )
    assert set(shown) == set(httpx.get(service + "/openapi.json").json()["paths"])
    assert RECOMMENDATIONS in shown
    assert f'data-path="{RECOMMENDATIONS}"' in page.dom()
    assert _loopback_only(browser.requested_urls(page)) == []
    assert any(u.endswith("/swagger-ui-bundle.js") for u in browser.requested_urls(page))


def test_swagger_try_it_out_calls_the_running_service(browser: Chromium, service: str) -> None:
    page = _open(browser, service + "/docs")
    block = _block(SIMILAR)
    page.wait_for(f"!!document.querySelector('.opblock-summary-path[data-path=\"{SIMILAR}\"]')")
    page.js(f"{block}.querySelector('.opblock-summary-control').click()")
    page.wait_for(f"!!{block}.querySelector('.try-out__btn')")
    page.js(f"{block}.querySelector('.try-out__btn').click()")
    item_input = f"{block}.querySelector('tr[data-param-name=\"item_id\"] input')"
    page.wait_for(f"!!{item_input}")
    page.js(f"{item_input}.focus()")
    page.type_text("20")
    time.sleep(1)  # Swagger UI takes parameter edits after a short debounce
    page.js(f"{block}.querySelector('button.execute').click()")
    status = page.wait_for(
        f"(() => {{ const c = {block}.querySelector('.live-responses-table tr.response td.response-col_status');"
        " return c && c.textContent.trim(); })()"
    )
    assert status == "200"
    body = json.loads(
        page.js(f"{block}.querySelector('.live-responses-table tr.response pre.microlight').textContent")
    )
    assert body["version"] == V1 and len(body["results"]) == 10
    assert 20 not in [hit["id"] for hit in body["results"]]
    request_url = page.js(f"{block}.querySelector('.request-url pre').textContent")
    assert request_url.startswith(service + "/v1/items/20/similar")
    assert _loopback_only(browser.requested_urls(page)) == []


# ---- gfm docs --serve ---------------------------------------------------------------------


def test_docs_server_prints_one_url_per_page(docs_site: DocsSite) -> None:
    assert set(docs_site.urls) == {"dbt docs", "Data Docs", "evaluation report"}
    for url in (docs_site.start, *docs_site.urls.values()):
        assert urlsplit(url).hostname == "127.0.0.1"
        assert httpx.get(url, follow_redirects=True).status_code == 200


def test_evaluation_report_shows_the_hr10_table_and_its_images_load(
    browser: Chromium, docs_site: DocsSite
) -> None:
    page = _open(browser, docs_site.urls["evaluation report"])
    page.wait_for("document.images.length > 0 && Array.from(document.images).every(i => i.complete)")
    rows = page.js(
        "(() => { const h = Array.from(document.querySelectorAll('h2')).find(e => e.textContent.startsWith('hr@10'));"
        " return Array.from(h.nextElementSibling.rows).map(r => Array.from(r.cells).map(c => c.innerText)); })()"
    )
    header, *body = rows
    assert header[0] == "model" and header[1].split() == ["audiobook", "all"]
    shown = {row[0]: row[1].split()[0] for row in body}
    assert shown == {name: f"{hr:.3f}" for name, hr in MODELS.items()}
    sizes = page.js("Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight])")
    assert len(sizes) == 3 and all(w > 100 and h > 100 for w, h in sizes)
    assert _loopback_only(browser.requested_urls(page)) == []


def test_dbt_docs_show_fct_item_edges_and_its_column_descriptions(
    browser: Chromium, docs_site: DocsSite
) -> None:
    page = _open(browser, docs_site.urls["dbt docs"] + "#!/model/model.gfm.fct_item_edges")
    page.wait_for("document.body.innerText.includes('Content type of src_item_id')")
    text = page.js("document.body.innerText")
    assert "fct_item_edges" in text and "Undirected item-item co-consumption edges" in text
    assert _loopback_only(browser.requested_urls(page)) == []
    assert any(urlsplit(u).path.endswith("/manifest.json") for u in browser.requested_urls(page))


def test_data_docs_list_every_validation_and_render_its_page(
    browser: Chromium, docs_site: DocsSite, pages_dir: Path
) -> None:
    validation = pages_dir / "reports" / "validation"
    validated = sum(
        len(json.loads((validation / f"{stage}-latest.json").read_text())["row_counts"])
        for stage in ("raw", "marts")
    )
    page = _open(browser, docs_site.urls["Data Docs"])
    rows = "document.querySelectorAll('table.ge-index-page-validation-results-table tbody tr.clickable-row')"
    page.wait_for(f"{rows}.length === {validated}")
    assert page.js("document.querySelectorAll('.ge-success-icon').length") == validated  # every gate passed
    page.wait_for("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")  # the icons' font loaded
    assert _loopback_only(browser.requested_urls(page)) == []

    first = page.js(f"{rows}[0].dataset.href")
    result = _open(browser, docs_site.urls["Data Docs"] + first)
    result.wait_for("document.body.innerText.includes('Expectation Validation Result')")
    assert "Succeeded" in result.js("document.body.innerText")
    assert result.js("getComputedStyle(document.querySelector('.navbar')).display") == "flex"  # Bootstrap CSS
    assert _loopback_only(browser.requested_urls(result)) == []


# ---- the network ---------------------------------------------------------------------------


def test_no_request_leaves_127_0_0_1(
    chromium_binary: str, service: str, docs_site: DocsSite, tmp_path: Path
) -> None:
    """Every page once more in a fresh browser, then its whole network log is read."""
    chrome = Chromium(chromium_binary, tmp_path)
    try:
        visits = [
            (service + "/docs", "document.querySelectorAll('.opblock').length > 0"),
            (docs_site.urls["evaluation report"], "Array.from(document.images).every(i => i.complete)"),
            (
                docs_site.urls["dbt docs"] + "#!/model/model.gfm.fct_item_edges",
                "document.body.innerText.includes('Content type of src_item_id')",
            ),
            (docs_site.urls["Data Docs"], "document.querySelectorAll('tr.clickable-row').length > 0"),
        ]
        for url, rendered in visits:
            _open(chrome, url).wait_for(rendered)
    finally:
        chrome.close()
    requested = chrome.requested_urls()
    assert len(requested) > 20 and _loopback_only(requested) == []
    # The net log holds every request of the whole browser. Those of the pages (an origin as
    # initiator) went to 127.0.0.1; every host name resolution was either 127.0.0.1 or refused by
    # the resolver rule (Chromium's own update and sign-in checks), so nothing reached the network.
    from_pages = [
        r["url"] for r in chrome.net_log("URL_REQUEST_START_JOB") if r.get("initiator", "").startswith("http")
    ]
    assert from_pages and _loopback_only(from_pages) == []
    lookups = [r["host"] for r in chrome.net_log("HOST_RESOLVER_MANAGER_REQUEST") if "host" in r]
    resolved = {urlsplit(host).hostname for host in lookups}
    assert "127.0.0.1" in resolved and resolved <= {"127.0.0.1", "~notfound"}, resolved
