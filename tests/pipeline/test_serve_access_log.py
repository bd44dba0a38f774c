"""``gfm serve`` as a real process: a token is required once one exists, and each team's count is logged."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from vector_index.tokens import TokenStore


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_served_requests_need_the_token_and_are_counted_per_team_in_the_log(tmp_path: Path) -> None:
    _, token = TokenStore(tmp_path).create("analytics", ["search"])
    port = _free_port()
    gfm = Path(sys.executable).with_name("gfm")
    cmd = [str(gfm), "--data-dir", str(tmp_path), "serve", "--port", str(port)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C's default action even where the runner ignores SIGINT (started in the background)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "gfm serve did not start"
            time.sleep(0.3)
        assert httpx.get(f"{base}/v1/versions").status_code == 401
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(2):
            assert httpx.get(f"{base}/v1/versions", headers=headers).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert "access: bearer tokens required" in output
    assert "access team=analytics" in output and "requests=2" in output
    assert "access summary token=" in output
    assert token not in output
