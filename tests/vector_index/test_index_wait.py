"""Waiting for a server's background index build (the real build is in the server tests)."""

from __future__ import annotations

from typing import Any

import pytest

from gfm.errors import StageError
from vector_index.load import wait_for_index


class ReportingClient:
    """Answers ``describe_index`` from a script of reports, as the Milvus 2.3.5 server does."""

    def __init__(self, reports: list[dict[str, Any]]) -> None:
        self.reports = reports
        self.calls = 0

    def describe_index(self, name: str, field: str) -> dict[str, Any]:
        report = self.reports[min(self.calls, len(self.reports) - 1)]
        self.calls += 1
        return report


def test_finished_state_with_pending_rows_is_not_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vector_index.load.time.sleep", lambda _: None)
    client = ReportingClient(
        [
            {"state": "Finished", "indexed_rows": 4075, "pending_index_rows": 95925},
            {"state": "Finished", "indexed_rows": 100000, "pending_index_rows": 57438},  # compaction
        ]
    )
    wait_for_index(client, "c", 100000)
    assert client.calls == 2


def test_an_index_that_never_covers_the_rows_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vector_index.load.time.sleep", lambda _: None)
    client = ReportingClient([{"state": "Finished", "indexed_rows": 10, "pending_index_rows": 90}])
    with pytest.raises(StageError, match="10 of 100"):
        wait_for_index(client, "c", 100, timeout=0.0)
