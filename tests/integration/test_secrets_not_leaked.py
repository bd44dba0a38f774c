"""No secret of a run with credentials is written anywhere: files of the data dir, ``gfm`` output.

``gfm run`` (tiny synthetic platform) runs against every backing store with credentials: the
scale-out Feast store on a private Redis (ACL user) and a private PostgreSQL registry (password),
and the session's Milvus server with authentication (writer user). Then ``gfm serve`` answers as
the read-only reader, and ``gfm versions`` / ``gfm audit`` print. The passwords come from the
environment (Redis) and a 0600 secrets file (the rest); the config file holds user names only.
Every byte of every file under the data directory (logs, provenance cards, reports, the
warehouse, feature_store.yaml, the release record, the audit log) and every line the commands
printed is then searched for each secret.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fixtures.milvus_server import MilvusStandalone
from fixtures.private_stores import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
GFM = str(Path(sys.executable).with_name("gfm"))
REDIS_PASSWORD = "redis-Secret-7f3a91c2"
REGISTRY_PASSWORD = "registry-Secret-2b8e44d0"
TINY = {
    "generate": {"users": 300, "podcasts": 160, "audiobooks": 70, "topics": 6},
    "hgnn": {"epochs": 2, "device": "cpu"},
    "two_tower": {"epochs": 2, "batch_size": 256, "device": "cpu"},
    "evaluate": {"train_companions": False},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gfm(args: list[str], env: dict[str, str], outputs: list[str], timeout: float = 900) -> None:
    done = subprocess.run([GFM, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    outputs += [done.stdout, done.stderr]
    assert done.returncode == 0, f"gfm {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, milvus_server: MilvusStandalone
) -> Iterator[tuple[Path, list[str], list[str], dict[str, str]]]:
    work = tmp_path_factory.mktemp("leak")
    data = work / "data"
    with (
        PrivateRedis(work / "redis", "gfm_feast", REDIS_PASSWORD) as redis,
        PrivatePostgres("gfm_registry", REGISTRY_PASSWORD) as postgres,
    ):
        server = milvus_server.gfm_overrides()
        config = {
            **TINY,
            "features": {
                "mode": "scale_out",
                "project": "gfmleak",
                "redis_connection": redis.connection,
                "redis_user": redis.user,
                "registry_url": postgres.url(),
            },
            "index": server["index"],
        }
        config_file = work / "gfm.yaml"  # what a team would commit: user names, no secret
        config_file.write_text(yaml.safe_dump(config))
        values = {
            **yaml.safe_load(milvus_server.secrets_file.read_text()),
            "GFM_REGISTRY_PASSWORD": REGISTRY_PASSWORD,
        }
        secrets_file = work / "secrets.yaml"
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(values, fh)
        env = {
            **os.environ,
            "COLUMNS": "200",
            "GFM_CONFIG": str(config_file),
            "GFM_DATA_DIR": str(data),
            "GFM_SECRETS_FILE": str(secrets_file),
            "GFM_REDIS_PASSWORD": REDIS_PASSWORD,
        }
        outputs: list[str] = []
        _gfm(["run", "--source", "synthetic"], env, outputs)
        _gfm(["versions"], env, outputs)
        _gfm(["audit"], env, outputs)
        outputs += _serve(env, data)
        yield data, outputs, [REDIS_PASSWORD, *values.values()], values


def _serve(env: dict[str, str], data: Path) -> list[str]:
    """Start ``gfm serve``, ask for versions and a recommendation, stop it; its output."""
    import pandas as pd

    port = _free_port()
    log = data.parent / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [GFM, "serve", "--port", str(port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        user = int(
            pd.read_parquet(data / "marts" / "dim_users.parquet", columns=["user_id"])["user_id"].iloc[0]
        )
        with urllib.request.urlopen(f"{base}/v1/users/{user}/recommendations?k=5", timeout=60) as resp:
            assert len(json.load(resp)["results"]) == 5
        with urllib.request.urlopen(f"{base}/v1/versions", timeout=60) as resp:
            assert json.load(resp)["live"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return [log.read_text()]


def test_the_run_published_with_every_store_behind_credentials(
    run: tuple[Path, list[str], list[str], dict[str, str]],
) -> None:
    data, _, _, _ = run
    cards = sorted((data / "reports" / "provenance").glob("v*.json"))
    card = json.loads(cards[-1].read_text())
    assert card["status"] == "published"
    assert card["config"]["features"]["mode"] == "scale_out"
    assert card["config"]["index"]["writer_user"] and card["config"]["index"]["reader_user"]
    assert "${GFM_REDIS_PASSWORD}" in (data / "feast" / "feature_store.yaml").read_text()


def test_no_secret_is_in_any_file_of_the_data_dir_or_any_gfm_output(
    run: tuple[Path, list[str], list[str], dict[str, str]],
) -> None:
    data, outputs, secret_values, _ = run
    files = [p for p in data.rglob("*") if p.is_file()]
    assert len(files) > 50
    leaks = []
    for secret in secret_values:
        needle = secret.encode()
        leaks += [str(p) for p in files if needle in p.read_bytes()]
        leaks += [f"gfm output #{i}" for i, text in enumerate(outputs) if secret in text]
    assert not leaks, leaks
