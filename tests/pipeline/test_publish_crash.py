"""``kill -9`` of a publish at each of its boundaries: readers stay on (or go back to) the previous
version, gc removes the dead version's leftovers, and a rerun publishes.

The child process is a real publish (Feast + Milvus Lite) that SIGKILLs itself at one named point
(``pipeline.release.CRASH_HOOK``). Before repair, only the pointers the module docstring of
``pipeline.release`` allows may show the new version; after ``gc`` (what the next ``gfm run``
does first) every reader agrees on the previous version again.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from release_fixtures import REPO, all_on, export, make_config, publish, readers

from gfm import releases
from gfm.config import Config
from pipeline import release
from vector_index import close_clients

pytestmark = pytest.mark.slow  # one real publish per crash point, each in a fresh process

_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[4])
    from release_fixtures import gated, make_config
    from pipeline import release

    cfg = make_config(Path(sys.argv[1]), project=sys.argv[2])
    point = sys.argv[3]

    def crash(name):
        if name == point:
            os.kill(os.getpid(), signal.SIGKILL)

    release.CRASH_HOOK = crash
    gated(cfg, sys.argv[5])
    release.publish(cfg, sys.argv[5], why="crash test")
    """
)
FEAST_READERS = ("feast", "feast_hgnn", "item_embeddings", "user_embeddings")
ALIASES = ("item_two_tower", "user_two_tower", "item_hgnn")
# which readers may already show the new version when the publish is killed at each point
MOVED = {
    "feast_data": (),
    "milvus_data": (),
    "intent": (),
    "feast_pointer": FEAST_READERS,
    "pointers": FEAST_READERS + ALIASES,
}


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    config = make_config(tmp_path_factory.mktemp("crash"))
    export(config, "v20261201t000000_000000", seed=1)
    publish(config, "v20261201t000000_000000")
    yield config
    close_clients()


def _killed_publish(cfg: Config, point: str, version: str) -> None:
    close_clients()  # Milvus Lite: one process holds the file at a time
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(cfg.data_dir),
            cfg.features.project,
            point,
            str(REPO / "tests" / "pipeline"),
            version,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]


@pytest.mark.parametrize("point", [*MOVED, "committed"])
def test_kill_9_during_publish(cfg: Config, point: str) -> None:
    previous = releases.read_record(cfg.data_dir).live
    assert previous is not None
    version = f"v20261202t0000{len(releases.read_record(cfg.data_dir).releases):02d}_abcdef"
    export(cfg, version, seed=len(version) + len(point))

    _killed_publish(cfg, point, version)

    seen = readers(cfg)
    if point == "committed":
        assert seen == all_on(cfg, version)  # the publish had finished: nothing to repair
        assert release.gc(cfg, why="after crash") == {"failed": [], "removed": {}}
        return
    expected = {name: version if name in MOVED[point] else previous for name in seen}
    assert seen == expected
    assert releases.read_record(cfg.data_dir).get(version).status == "gated"

    result = release.gc(cfg, why="after crash")  # what the next gfm run does first
    assert result["failed"] == [version]
    assert readers(cfg) == all_on(cfg, previous)
    record = releases.read_record(cfg.data_dir)
    assert record.pending is None and record.get(version).status == "failed"
    gone = result["removed"].get(version, [])
    assert str(cfg.embeddings_dir / "two_tower" / version) in gone
    assert not (cfg.embeddings_dir / "two_tower" / version).exists()
    assert (cfg.embeddings_dir / "two_tower" / previous).exists()
    if point != "feast_data":
        assert f"item_two_tower_{version}" in gone
    assert not list((cfg.feast_dir / "published").glob(f"*_{version}.parquet"))

    if point != "pointers":
        return  # one rerun is enough: the repaired state is the same after every point
    rerun = version[:-6] + "fedcba"  # the rerun: a new version over the same data publishes
    export(cfg, rerun, seed=7)
    publish(cfg, rerun)
    assert readers(cfg) == all_on(cfg, rerun)
