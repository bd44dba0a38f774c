"""Start and stop a local Milvus standalone server (PyPI ``milvus==2.3.5``) for tests and benchmarks.

The server listens on all interfaces (``proxy.ip`` does not change that), so by default it runs
in a private network namespace (``unshare -n``, loopback only; needs root or user namespaces) and
``vector_index.netns_proxy`` forwards a loopback port of this namespace to it. The server binary
is started directly with a fixed config rather than through the ``milvus-server`` wrapper, whose
port picking breaks restarts (see ../shared/reference/STACK-NOTES.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from gfm.errors import StageError

__all__ = ["MilvusStandalone"]

GRPC_PORT = 19530
HEALTH_PORT = 9091


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MilvusStandalone:
    """A Milvus standalone server process with its data under ``data_dir``.

    Args:
        data_dir: Where the binaries are unpacked (~250 MB) and the data lives.
        isolate_network: Run in a private network namespace and forward a loopback port to it.
            Without it the server binds 0.0.0.0:19530 (only do that on a trusted host).
        startup_timeout: Seconds to wait for ``/healthz``.

    Example::

        with MilvusStandalone(tmp / "milvus") as server:
            client = MilvusClient(server.uri)

    """

    def __init__(self, data_dir: Path, isolate_network: bool = True, startup_timeout: float = 120.0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.isolate_network = isolate_network
        self.startup_timeout = startup_timeout
        self._server: subprocess.Popen[bytes] | None = None
        self._proxy: subprocess.Popen[bytes] | None = None
        self.port = GRPC_PORT
        self.health_port = HEALTH_PORT

    @property
    def uri(self) -> str:
        """The gRPC URI clients of this process use."""
        return f"http://127.0.0.1:{self.port}"

    def _prepare(self) -> Path:
        try:
            from milvus import MilvusServerConfig, _initialize_data_files
        except ImportError as exc:
            raise StageError("the Milvus server needs the `milvus` package (pip install 'gfm[dev]')") from exc
        config = MilvusServerConfig(data_dir=str(self.data_dir))
        config.resolve_storage()  # fixed default ports: the private namespace has none in use
        config.write_config()
        _initialize_data_files(str(self.data_dir))
        return self.data_dir / "bin" / "milvus"

    def start(self) -> str:
        """Start the server (and the port forwarder) and wait until it is healthy.

        Returns:
            The URI to connect to.

        Raises:
            StageError: If it exits or is not healthy within ``startup_timeout`` (log path given).

        """
        exe = self._prepare()
        env = {
            **os.environ,
            "DEPLOY_MODE": "STANDALONE",
            "METRICS_PORT": str(HEALTH_PORT),
            "MILVUS_RUN_DIR": str(self.data_dir / "run"),
            "LD_LIBRARY_PATH": f"{exe.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}",
        }
        cmd = [str(exe), "run", "standalone"]
        if self.isolate_network:
            if shutil.which("unshare") is None:
                raise StageError("`unshare` is missing: cannot isolate the Milvus server's network")
            cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]
        log = (self.data_dir / "logs" / "milvus-stdout.log").open("wb")
        self._server = subprocess.Popen(cmd, cwd=self.data_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if self.isolate_network:
            self.port, self.health_port = _free_port(), _free_port()
            self._proxy = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "vector_index.netns_proxy",
                    f"/proc/{self._server.pid}/ns/net",
                    f"{self.port}:{GRPC_PORT}",
                    f"{self.health_port}:{HEALTH_PORT}",
                ]
            )
        self._wait_healthy()
        return self.uri

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        while time.monotonic() < deadline:
            if self._server is None or self._server.poll() is not None:
                break
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if b"OK" in resp.read():
                        time.sleep(1.0)  # the proxy answers health before the gRPC services are up
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        log = self.data_dir / "logs" / "milvus-stdout.log"
        raise StageError(f"Milvus server did not become healthy in {self.startup_timeout:.0f} s; see {log}")

    def stop(self) -> None:
        """Stop the server: SIGINT, then SIGKILL after a few seconds, then the forwarder.

        SIGTERM can hang for minutes; a SIGINT'ed standalone often takes tens of seconds, and
        its data survives a kill (it is flushed and in etcd/rocksmq), so it is not waited for long.
        """
        if self._server is not None and self._server.poll() is None:
            self._server.send_signal(signal.SIGINT)
            try:
                self._server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait(timeout=10)
        self._server = None
        if self._proxy is not None:
            self._proxy.terminate()
            self._proxy.wait(timeout=10)
            self._proxy = None

    def __enter__(self) -> MilvusStandalone:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
