"""A uvicorn server in a thread on 127.0.0.1 (as httpx's TestServer): real sockets, real faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from sim06.services.bench.servers import free_port


@contextmanager
def live_server(app: ASGIApp, **options: Any) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL (``options``: more of
    uvicorn's ``Config``, e.g. ``http``)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", lifespan="off", **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
