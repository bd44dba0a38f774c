"""The index suite on Milvus Lite, plus a real kill -9 during a load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from index_suite import DIM, V1, V2, IndexSuite, write_export

from gfm.config import Config
from vector_index import close_clients, ops
from vector_index.versions import live_version

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg(tmp_path: Path) -> Iterator[Config]:
    config = Config.load(data_dir=tmp_path, environ={})
    yield config
    close_clients()  # releases the Lite file lock


class TestLite(IndexSuite):
    pass


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from gfm.config import Config
    from vector_index import ops

    cfg = Config.load(data_dir=sys.argv[1], environ={}, overrides={"index": {"insert_batch": 50}})

    def die(done, total):
        if done >= 100:  # two batches in: kill -9 ourselves, mid-load
            os.kill(os.getpid(), signal.SIGKILL)

    ops.index_version(cfg, "two_tower", sys.argv[2], entities=("item",),
                      on_batch=lambda entity, done, total: die(done, total))
    """
)


def test_kill_9_during_load_keeps_previous_version_live_and_rerun_completes(cfg: Config) -> None:
    write_export(cfg, "two_tower", V1, seed=1)
    ops.index_version(cfg, "two_tower", V1, entities=("item",))
    ops.publish_version(cfg, "two_tower", V1, entities=("item",))
    close_clients()  # the child process must own the Lite file
    write_export(cfg, "two_tower", V2, seed=2)

    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(cfg.data_dir), V2], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    client = ops.client_for(cfg)  # reopen after the crash
    assert live_version(client, "item_two_tower") == V1
    partial = {v["version"]: v for v in ops.list_versions(cfg)}
    assert not partial[V2]["complete"]
    [result] = ops.index_version(cfg, "two_tower", V2, entities=("item",))
    assert result.rebuilt and result.rows == 300
    ops.publish_version(cfg, "two_tower", V2, entities=("item",))
    assert live_version(client, "item_two_tower") == V2
    assert DIM == 16 and os.path.exists(cfg.milvus_uri)
