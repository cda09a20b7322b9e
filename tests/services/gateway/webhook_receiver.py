"""A webhook receiver for tests: a stdlib HTTP server on 127.0.0.1 in a thread.

It records every request (headers, body, arrival) and can be told to answer 503 to the first
``fail_first`` requests or to hold requests open until :meth:`Receiver.release`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import orjson


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    fail_first: int = 0
    hang: bool = False
    requests: list[Received] = field(default_factory=list)
    open_requests: int = 0
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self) -> None:
        """Answer the held requests (200) and hold no more."""
        self.hang = False
        self._released.set()

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in order (the first ``fail_first`` were refused)."""
        with self._lock:
            return list(self.requests[self.fail_first :])


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with receiver._lock:
                receiver.requests.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body, time.time())
                )
                n = len(receiver.requests)
                receiver.open_requests += 1
            try:
                if receiver.hang:
                    receiver._released.wait(60)
                status = 503 if n <= receiver.fail_first else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            finally:
                with receiver._lock:
                    receiver.open_requests -= 1

        def log_message(self, *_: Any) -> None:  # quiet: no request lines on stderr
            return None

    return Handler


@contextmanager
def receiver(**options: Any) -> Iterator[Receiver]:
    """A running receiver at ``receiver.url`` (http://127.0.0.1:<port>/hook)."""
    state = Receiver(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release()
        server.shutdown()
        server.server_close()
        thread.join(5)


async def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``condition`` until true (AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def verify(received: Received, jwks: dict[str, Any]) -> dict[str, Any]:
    """Check the X-JWS-Signature of a delivery with the gateway's JWKS; its protected header.

    What a receiver does: find the key by ``kid``, verify the detached unencoded JWS over the
    body exactly as received, then compare the signed id and timestamp with the headers."""
    signature = received.headers["x-jws-signature"]
    kid = jwt.get_unverified_header(signature)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    decoded = jwt.api_jws.decode_complete(
        signature, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], detached_payload=received.body
    )
    header: dict[str, Any] = decoded["header"]
    assert header["webhook-id"] == received.headers["webhook-id"]
    assert header["webhook-timestamp"] == received.headers["webhook-timestamp"]
    assert abs(int(received.headers["webhook-timestamp"]) - received.at) < 60
    return header
