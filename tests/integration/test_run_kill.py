"""``kill -9`` of ``gfm run`` at stage boundaries: every reader stays on the published version.

A first run publishes on the tiny synthetic platform; a second run, in a child process, SIGKILLs
itself as a stage begins (``pipeline.run.STAGE_HOOK``). The release record, Feast (pointer and
stable services), the Milvus aliases and ``gfm versions`` must then agree on the first version;
``gfm gc`` (what the next run does first) fails the dead run and removes what it left.
The publish step's own boundaries are tested in tests/pipeline/test_publish_crash.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gfm import releases
from gfm.config import Config
from pipeline import release
from pipeline.run import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))
from release_fixtures import all_on, readers

pytestmark = [pytest.mark.slow, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
TINY = {
    "generate": {"users": 300, "podcasts": 160, "audiobooks": 70, "topics": 6},
    "hgnn": {"epochs": 2, "device": "cpu"},
    "two_tower": {"epochs": 2, "batch_size": 256, "device": "cpu"},
    "evaluate": {"train_companions": False},
}
_CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from gfm.config import Config
    from pipeline import run

    cfg = Config.load(data_dir=Path(sys.argv[1]), overrides=json.loads(sys.argv[2]), environ={})

    def crash(stage):
        if stage.startswith(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)

    run.STAGE_HOOK = crash
    run.run_pipeline(cfg, source="existing")
    """
)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, str]]:
    cfg = Config.load(data_dir=tmp_path_factory.mktemp("kill") / "data", overrides=TINY, environ={})
    result = run_pipeline(cfg, source="synthetic")
    assert result.status == "published"
    yield cfg, result.version
    from vector_index.client import close_clients

    close_clients()


@pytest.mark.parametrize(
    "stage", ["2-3. transform", "4. features", "7. two-tower", "9. evaluation", "11. publish"]
)
def test_kill_9_at_a_stage_boundary_leaves_every_reader_on_the_published_version(
    first: tuple[Config, str], stage: str
) -> None:
    import json

    from vector_index.client import close_clients

    cfg, live = first
    close_clients()  # Milvus Lite: the child needs the file
    # a script file, not ``python -c``: pyspark's Spark Connect check (imported through Great
    # Expectations when pyspark is installed) exits 0 in a main module that has no __file__
    script = cfg.data_dir.parent / "kill_child.py"
    script.write_text(_CHILD)
    child = subprocess.run(
        [sys.executable, str(script), str(cfg.data_dir), json.dumps(TINY), stage],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    record = releases.read_record(cfg.data_dir)
    killed = max(record.releases)
    assert killed != live and record.get(killed).status in {"running", "gated"}
    assert readers(cfg) == all_on(cfg, live)

    result = release.gc(cfg, why="after a killed run")
    assert result["failed"] == [killed]
    assert readers(cfg) == all_on(cfg, live)
    assert not (cfg.embeddings_dir / "two_tower" / killed).exists()
    assert (cfg.embeddings_dir / "two_tower" / live).exists()

    from pipeline.cli import app

    listed = CliRunner().invoke(app, ["--data-dir", str(cfg.data_dir), "versions"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if killed in line)
    assert "failed" in row
    card = json.loads((cfg.reports_dir / "provenance" / f"{killed}.json").read_text())
    assert card["status"] == "failed"
