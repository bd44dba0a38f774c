"""Serve a data directory's pages for people on loopback: dbt docs, Data Docs, evaluation report.

``gfm docs --serve`` runs a ``DocsServer`` over ``<data_dir>/reports``:

- ``/dbt-docs/``  the dbt docs site (``reports/dbt_docs``), which must be served over HTTP to load
  its ``manifest.json``;
- ``/data-docs/`` the Great Expectations Data Docs (``reports/validation/data_docs``);
- ``/report/``    the newest evaluation report (``reports/eval/<version>/report.html``).

Every page must work on a machine without internet access. The dbt docs and the report are
self-contained; the Data Docs pages load jQuery, Bootstrap and friends from public CDNs, so their
HTML is rewritten as it is served: each CDN file that ``docs_assets/assets.json`` lists is served
from the copy shipped beside this module (``/_assets/``), and any other reference to another host
(charts, a dark theme, a logo) is left out. Every response also carries a Content-Security-Policy
that lets the browser fetch from this server only.
"""

from __future__ import annotations

import html
import json
import logging
import mimetypes
import re
import threading
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from gfm.errors import GfmError
from gfm.versioning import list_versions

__all__ = ["DocsServer", "Page", "dbt_docs_index", "dbt_docs_stale", "find_pages", "offline_html"]

log = logging.getLogger(__name__)
ASSETS_DIR = Path(__file__).with_name("docs_assets")
ASSETS_MOUNT = "/_assets/"
# The browser may load scripts, styles, images, fonts and data from this server (and data: URLs)
# only; inline scripts stay allowed because dbt docs and Data Docs are built around them.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'self'"
)
_GX_LOGO = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png"
_TAG = re.compile(r"<(?P<tag>script|link|img)\b(?P<attrs>[^>]*)>(?P<close>\s*</script\s*>)?", re.IGNORECASE)
_URL_ATTR = re.compile(
    r"""\b(?P<name>src|href)\s*=\s*(?P<q>["'])(?P<url>.*?)(?P=q)""", re.IGNORECASE | re.DOTALL
)
mimetypes.add_type("font/woff2", ".woff2")


@dataclass(frozen=True)
class Page:
    """One site served under ``mount`` from ``folder``; ``index`` is its start page."""

    name: str
    mount: str
    folder: Path
    index: str
    note: str = ""


def dbt_docs_index(reports_dir: Path) -> Path:
    """Where ``gfm docs`` writes the dbt docs' start page."""
    return reports_dir / "dbt_docs" / "index.html"


def dbt_docs_stale(reports_dir: Path, warehouse: Path) -> bool:
    """Whether the dbt docs are missing or older than the warehouse they describe."""
    index = dbt_docs_index(reports_dir)
    if not index.exists():
        return True
    return warehouse.exists() and index.stat().st_mtime < warehouse.stat().st_mtime


def find_pages(reports_dir: Path) -> tuple[list[Page], list[str]]:
    """The pages present under ``reports_dir``, and a hint for each one missing.

    Returns:
        ``(pages, missing)``: the sites to serve, and one line per absent site saying which
        command writes it.

    """
    pages, missing = [], []
    dbt = dbt_docs_index(reports_dir)
    if dbt.exists():
        pages.append(Page("dbt docs", "/dbt-docs/", dbt.parent, dbt.name))
    else:
        missing.append("dbt docs: none yet (`gfm transform` builds the warehouse they describe)")
    data_docs = reports_dir / "validation" / "data_docs" / "index.html"
    if data_docs.exists():
        pages.append(Page("Data Docs", "/data-docs/", data_docs.parent, data_docs.name))
    else:
        missing.append("Data Docs: none yet (the validation gates of `gfm transform` / `gfm run` write them)")
    evals = reports_dir / "eval"
    reported = [v for v in list_versions(evals) if (evals / v / "report.html").exists()]
    if reported:
        version = reported[-1]
        pages.append(Page("evaluation report", "/report/", evals / version, "report.html", note=version))
    else:
        missing.append("evaluation report: none yet (`gfm evaluate` or `gfm run` writes it)")
    return pages, missing


@cache
def _cdn_assets() -> dict[str, str]:
    """CDN URL -> file under ``docs_assets`` (only the files that are present)."""
    manifest = ASSETS_DIR / "assets.json"
    if not manifest.exists():
        return {}
    entries = json.loads(manifest.read_text(encoding="utf-8"))["assets"]
    return {e["cdn_url"]: e["file"] for e in entries if (ASSETS_DIR / e["file"]).is_file()}


def _is_external(url: str) -> bool:
    return url.startswith("//") or urlsplit(url).scheme.lower() in {"http", "https", "ws", "wss", "ftp"}


def offline_html(text: str, site_mount: str) -> str:
    """Point a page's CDN scripts, styles and images at this server, or leave them out.

    Args:
        text: An HTML page.
        site_mount: Where the page's site is served (``/data-docs/``), for the GX logo.

    Returns:
        The page with no ``<script>``, ``<link>`` or ``<img>`` that loads from another host.
        Links a person clicks (``<a href>``) are kept.

    """
    assets = _cdn_assets()

    def rewrite(match: re.Match[str]) -> str:
        attrs = match.group("attrs")
        url_attr = _URL_ATTR.search(attrs)
        if url_attr is None or not _is_external(html.unescape(url_attr.group("url"))):
            return match.group(0)
        url = html.unescape(url_attr.group("url"))
        if url in assets:
            local = ASSETS_MOUNT + assets[url]
        elif url.split("?", 1)[0] == _GX_LOGO:
            local = site_mount + "static/images/logo-long-vector.svg"  # GX copies it into the site
        else:
            return ""  # e.g. vega charts, a dark theme: nothing on this machine serves them
        attrs = attrs[: url_attr.start("url")] + html.escape(local) + attrs[url_attr.end("url") :]
        whole, offset = match.group(0), match.start(0)
        return whole[: match.start("attrs") - offset] + attrs + whole[match.end("attrs") - offset :]

    return _TAG.sub(rewrite, text)


class DocsServer:
    """An HTTP server for the pages of one reports folder (threaded; loopback by default).

    Args:
        reports_dir: ``<data_dir>/reports``.
        host: Bind address; keep ``127.0.0.1`` unless the pages may be read from elsewhere.
        port: Port; 0 picks a free one.

    Raises:
        GfmError: If the address cannot be bound (e.g. the port is taken).

    """

    def __init__(self, reports_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.reports_dir = reports_dir
        self.pages, self.missing = find_pages(reports_dir)
        handler = type("Handler", (_Handler,), {"pages": self.pages, "missing": self.missing})
        try:
            self._httpd = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:  # port taken, address not on this machine, ...
            raise GfmError(f"cannot serve the docs on {host}:{port}: {exc.strerror or exc}") from exc
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's start page, e.g. ``http://127.0.0.1:8001/``."""
        host, port = str(self._httpd.server_address[0]), int(self._httpd.server_address[1])
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    def urls(self) -> dict[str, str]:
        """Page name -> its URL."""
        return {p.name: self.url.rstrip("/") + p.mount for p in self.pages}

    def describe(self) -> list[str]:
        """Lines for a person: the start page, each page's URL, and what is not built yet."""
        lines = [f"gfm docs on {self.url}  (Ctrl-C stops it)"]
        lines += [f"  {p.name:<18} {self.url.rstrip('/')}{p.mount}  {p.note}".rstrip() for p in self.pages]
        return lines + [f"  {line}" for line in self.missing]

    def serve_forever(self) -> None:
        """Serve until ``close()`` or Ctrl-C (KeyboardInterrupt reaches the caller)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> DocsServer:
        """Serve from a background thread; return self."""
        self._thread = threading.Thread(target=self.serve_forever, name="gfm-docs", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    pages: ClassVar[list[Page]] = []
    missing: ClassVar[list[str]] = []
    server_version = "gfm-docs"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _answer(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if path == "/":
            self._send(200, "text/html; charset=utf-8", self._start_page().encode(), send_body)
            return
        if path.startswith(ASSETS_MOUNT):
            self._send_file(ASSETS_DIR, path[len(ASSETS_MOUNT) :], None, send_body)
            return
        for page in self.pages:
            if path == page.mount.rstrip("/"):
                self._redirect(page.mount)
                return
            if path.startswith(page.mount):
                rest = path[len(page.mount) :] or page.index
                self._send_file(page.folder, rest, page, send_body)
                return
        self._send(404, "text/plain; charset=utf-8", b"not found\n", send_body)

    def _send_file(self, root: Path, relative: str, page: Page | None, send_body: bool) -> None:
        root = root.resolve()
        target = (root / relative.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(root) or not target.is_file():
            self._send(404, "text/plain; charset=utf-8", b"not found\n", send_body)
            return
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        body = target.read_bytes()
        if page is not None and page.mount == "/data-docs/" and kind == "text/html":
            body = offline_html(body.decode("utf-8"), page.mount).encode("utf-8")
        if kind.startswith("text/") or kind in {"application/javascript", "application/json"}:
            kind += "; charset=utf-8"
        self._send(200, kind, body, send_body)

    def _start_page(self) -> str:
        items = "".join(
            f'<li><a href="{p.mount}">{html.escape(p.name)}</a>'
            + (f" <small>{html.escape(p.note)}</small>" if p.note else "")
            + "</li>"
            for p in self.pages
        )
        absent = "".join(f"<li>{html.escape(m)}</li>" for m in self.missing)
        return (
            '<!doctype html><html><head><meta charset="utf-8"><title>gfm pages</title></head>'
            f"<body><h1>gfm pages</h1><ul>{items}</ul>"
            + (f"<h2>Not built yet</h2><ul>{absent}</ul>" if absent else "")
            + "</body></html>"
        )

    def _redirect(self, location: str) -> None:
        self.send_response(301)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, kind: str, body: bytes, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if send_body:
            self.wfile.write(body)
