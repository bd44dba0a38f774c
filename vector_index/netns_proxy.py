"""Forward loopback ports of this network namespace into another one (for an isolated Milvus).

Usage: ``python -m vector_index.netns_proxy /proc/<pid>/ns/net LOCAL:REMOTE [LOCAL:REMOTE ...]``

The listening sockets are opened on 127.0.0.1 first, in the caller's namespace; then the process
joins the target namespace (``setns``), so every outgoing connection reaches 127.0.0.1:REMOTE
there. A socket keeps the namespace it was created in, which is what makes this work.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def _handler(remote: int):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", remote)
        except OSError:
            writer.close()
            return
        sock = up_writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return handle


async def _serve(listeners: list[tuple[socket.socket, int]]) -> None:
    servers = [await asyncio.start_server(_handler(remote), sock=sock) for sock, remote in listeners]
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str]) -> None:
    """Open the listeners, join the namespace, forward until killed."""
    ns_path, *maps = argv
    listeners = []
    for item in maps:
        local, remote = (int(p) for p in item.split(":"))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", local))
        sock.listen(512)
        listeners.append((sock, remote))
    _setns(ns_path)
    asyncio.run(_serve(listeners))


if __name__ == "__main__":
    main(sys.argv[1:])
