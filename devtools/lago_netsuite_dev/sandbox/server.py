"""Run a sandbox ASGI app on loopback, in a background thread of the current process.

Tests and the demo use real HTTP against these servers; only the process boundary differs from
production. A port of 0 picks a free one; the bound port is read back from the socket.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    """A sandbox server started by :func:`serve_in_thread`."""

    host: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """Base URL of the server, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to exit and wait for its thread."""
        if self._stopped:
            return
        self.server.should_exit = True
        self.thread.join(timeout)
        self._stopped = True

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, **uvicorn_kwargs: Any) -> RunningServer:
    """Start ``app`` with uvicorn in a daemon thread and return once it accepts connections.

    Args:
        app: an ASGI application (the sandboxes are FastAPI apps).
        host: loopback by default; the sandboxes are never meant to face a network.
        port: 0 picks a free port.
        uvicorn_kwargs: passed to ``uvicorn.Config`` (e.g. ``timeout_keep_alive``).
    """
    # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets whose listener says TCP,
    # and without it every request on a kept-alive connection waits ~40 ms for delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=uvicorn_kwargs.pop("log_level", "warning"),
        access_log=False,
        lifespan="off",
        timeout_keep_alive=uvicorn_kwargs.pop("timeout_keep_alive", 30),
        **uvicorn_kwargs,
    )
    server = uvicorn.Server(config)

    def _run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=_run, name=f"sandbox-{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"sandbox server on {host}:{bound_port} exited during start-up")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"sandbox server on {host}:{bound_port} did not start within 15 s")
        time.sleep(0.01)
    log.info("sandbox listening on http://%s:%s", host, bound_port)
    return RunningServer(host=host, port=bound_port, server=server, thread=thread)
