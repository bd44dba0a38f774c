from __future__ import annotations

from pathlib import Path

from pipeline.provenance_html import attach_provenance, render_provenance

CARD = {
    "version": "v20260101t000000_abcdef",
    "status": "gate_failed",
    "reason": "quality gate: <script>alert(1)</script>",
    "data_fingerprint": "f00d",
    "stages": [{"name": "6. HGNN", "seconds": 11.0, "status": "ok", "detail": {}}],
    "dbt": {"row_counts": {"dim_items": 3700}, "n_dbt_tests": 71},
    "gates": {
        "raw": {"success": True, "expectations": [{"success": True}, {"success": True}]},
        "marts": {"success": False, "expectations": [{"success": True}, {"success": False}]},
        "embeddings": {"hgnn/item": {"success": True}},
        "quality": {"passed": False, "new": 0.31, "live_version": "v1"},
    },
    "checkpoints": {
        "hgnn": {"version": "v2", "checkpoint_dir": "/m/hgnn/v2", "metrics": {"heldout_link_auc": 0.93}}
    },
    "packages": {"torch": "2.13.0"},
}


def test_section_shows_gates_stages_checkpoints_and_escapes_text() -> None:
    out = render_provenance(CARD)
    assert "v20260101t000000_abcdef" in out and "f00d" in out
    assert "2/2 expectations" in out and "1/2 expectations" in out and "FAILED" in out
    assert "heldout_link_auc 0.93" in out and "11.0 s" in out
    assert "<script>" not in out and "&lt;script&gt;" in out


def test_attach_is_idempotent(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text("<html><body><h1>Evaluation</h1></body></html>\n")
    attach_provenance(page, CARD)
    attach_provenance(page, {**CARD, "data_fingerprint": "beef"})
    text = page.read_text()
    assert text.count("<h2>Provenance of") == 1 and "beef" in text and "f00d" not in text
    assert text.index("<h1>Evaluation</h1>") < text.index("Provenance of") < text.index("</body>")
