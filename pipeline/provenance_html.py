"""The provenance card as an HTML section, appended to a version's evaluation report.

The JSON card (``pipeline.provenance``) stays the record; this renders the parts a reviewer reads
first (status, stage timings, gates, dbt, Feast, checkpoints, metrics, packages) and keeps the
full card in a collapsed block below them.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

__all__ = ["attach_provenance", "render_provenance"]

_MARK = "<!-- gfm provenance -->"


def _e(value: object) -> str:
    return html.escape(str(value))


def _rows(pairs: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td style='text-align:left'>{_e(v)}</td></tr>" for k, v in pairs)
    return f"<table>{body}</table>"


def _stages(card: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{_e(s['name'])}</th><td>{s['seconds']:.1f} s</td><td>{_e(s['status'])}</td></tr>"
        for s in card.get("stages", [])
    )
    return f"<table><tr><th>stage</th><th>time</th><th>status</th></tr>{rows}</table>"


def _gates(card: dict[str, Any]) -> str:
    rows = []
    for name, gate in card.get("gates", {}).items():
        if "expectations" in gate:
            exps = gate["expectations"]
            failed = [x for x in exps if not x.get("success")]
            verdict = "passed" if gate.get("success") else "FAILED"
            detail = f"{len(exps) - len(failed)}/{len(exps)} expectations"
        elif "passed" in gate:  # the quality gate
            verdict = "passed" if gate["passed"] else "FAILED"
            detail = f"new {gate.get('new')}; live version {gate.get('live_version') or 'none'}"
        else:  # the embedding gate: one result per exported table
            results = {k: v.get("success") for k, v in gate.items() if isinstance(v, dict)}
            verdict = "passed" if all(results.values()) else "FAILED"
            detail = ", ".join(f"{k}: {'ok' if ok else 'failed'}" for k, ok in results.items())
        rows.append(
            f"<tr><th>{_e(name)}</th><td>{verdict}</td><td style='text-align:left'>{_e(detail)}</td></tr>"
        )
    return f"<table><tr><th>gate</th><th>result</th><th>detail</th></tr>{''.join(rows)}</table>"


def _checkpoints(card: dict[str, Any]) -> str:
    rows = []
    for name, ck in card.get("checkpoints", {}).items():
        metrics = ck.get("metrics", {})
        keep = {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        where = ck.get("checkpoint_dir") or ck.get("checkpoint") or ck.get("path", "")
        summary = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in keep.items())
        rows.append(
            f"<tr><th>{_e(name)}</th><td>{_e(ck.get('version') or ck.get('model_key', ''))}</td>"
            f"<td style='text-align:left'>{_e(where)}</td><td style='text-align:left'>{_e(summary)}</td></tr>"
        )
    head = "<tr><th>model</th><th>version</th><th>checkpoint</th><th>metrics</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _drift(card: dict[str, Any]) -> str:
    """The drift section (``embedding_jobs.evaluate.drift.render_html``) when the card has one."""
    drift = card.get("metrics", {}).get("drift")
    if not drift:
        return ""
    from embedding_jobs.evaluate.drift import render_html

    return f"<h3>Drift from the live version</h3>{render_html(drift)}"


def render_provenance(card: dict[str, Any]) -> str:
    """Render a provenance card (the JSON form) as an HTML section."""
    dbt = card.get("dbt", {})
    feast = card.get("feast", {})
    summary = _rows(
        [
            ("version", card.get("version")),
            ("status", f"{card.get('status')} {card.get('reason', '')}".strip()),
            ("created", card.get("created_at")),
            ("source", card.get("source")),
            ("input data fingerprint", card.get("data_fingerprint")),
            (
                "training window",
                f"{dbt.get('split', {}).get('train_start')} .. {dbt.get('split', {}).get('train_end')}",
            ),
            (
                "dbt models / tests",
                f"{len(dbt.get('model_timings', {}))} models, {dbt.get('n_dbt_tests', '?')} tests",
            ),
            ("dbt run results", dbt.get("run_results_path", "")),
            ("mart rows", ", ".join(f"{k} {v:,}" for k, v in dbt.get("row_counts", {}).items())),
            ("Feast feature views", ", ".join(feast.get("applied", []))),
            ("Feast published", ", ".join(Path(p).name for p in feast.get("published", []))),
            ("metrics", json.dumps(card.get("metrics", {}).get("headline", {}))),
            ("packages", ", ".join(f"{k} {v}" for k, v in card.get("packages", {}).items())),
        ]
    )
    full = _e(json.dumps(card, indent=2, default=str))
    return (
        f"{_MARK}<h2>Provenance of {_e(card.get('version'))}</h2>{summary}"
        f"<h3>Stages</h3>{_stages(card)}<h3>Gates</h3>{_gates(card)}"
        f"<h3>Checkpoints</h3>{_checkpoints(card)}{_drift(card)}"
        f"<details><summary>The full card (JSON)</summary><pre>{full}</pre></details>"
    )


def attach_provenance(html_path: Path, card: dict[str, Any]) -> None:
    """Insert (or replace) the provenance section at the end of an HTML report, atomically."""
    text = html_path.read_text()
    if _MARK in text:  # a rerun replaces the old section
        text = text[: text.index(_MARK)] + "</body></html>\n"
    body_end = text.rfind("</body>")
    text = text[:body_end] + render_provenance(card) + text[body_end:]
    tmp = html_path.with_suffix(".html.tmp")
    tmp.write_text(text)
    tmp.replace(html_path)
