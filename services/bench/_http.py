"""Minimal HTTP/1.1 client-side framing shared by the load generator and the flow client.

Only what a load generator needs: encode a request once, find the end of a response
(``Content-Length``, ``Transfer-Encoding: chunked`` or read-until-close) and read the
status line. Parsing is deliberately shallow so the client stays cheaper than the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "CHUNKED",
    "LOOPBACK",
    "MAX_HEAD",
    "UNTIL_CLOSE",
    "HeaderItems",
    "Malformed",
    "check_loopback",
    "encode_request",
    "has_no_body",
    "parse_headers",
    "scan_chunked",
    "scan_head",
]

LOOPBACK = "127.0.0.1"
# Framing markers returned by scan_head in place of a Content-Length.
CHUNKED = -1
UNTIL_CLOSE = -2
# A response head larger than this is treated as malformed rather than buffered forever.
MAX_HEAD = 64 * 1024

HeaderItems = Mapping[str, str] | Iterable[tuple[str, str]]


class Malformed(ValueError):
    """The bytes received are not a valid HTTP/1.1 response."""


def check_loopback(host: str) -> str:
    """Return the loopback address for ``host`` or raise ``ValueError``.

    Benchmarks must never generate load against anything but this machine.
    """
    if host in (LOOPBACK, "localhost"):
        return LOOPBACK
    raise ValueError(
        f"refusing to generate load against {host!r}: only {LOOPBACK} (loopback) is allowed"
    )


def encode_request(
    method: str,
    path: str,
    *,
    host: str,
    headers: HeaderItems | None = None,
    body: bytes = b"",
) -> bytes:
    """Encode one HTTP/1.1 request, ready to be written as is on a keep-alive connection.

    ``host`` is the value of the ``Host`` header (e.g. ``"127.0.0.1:8000"``). A
    ``Content-Length`` is added when there is a body or the method usually carries one.
    """
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    items = list(headers.items() if isinstance(headers, Mapping) else headers or ())
    names = {name.lower() for name, _ in items}
    lines = [f"{method.upper()} {path} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {host}")
    for name, value in items:
        lines.append(f"{name}: {value}")
    if "content-length" not in names and (body or method.upper() in ("POST", "PUT", "PATCH")):
        lines.append(f"Content-Length: {len(body)}")
    # A stray CR/LF would silently split one request into two and skew every count.
    if any("\r" in line or "\n" in line for line in lines):
        raise ValueError("request line and headers must not contain CR or LF")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


def has_no_body(status: int, head_request: bool) -> bool:
    """Whether a response can have no body whatever its headers say (RFC 9112 section 6.3)."""
    return head_request or status in (204, 304) or 100 <= status < 200


def scan_head(buf: bytes | bytearray, end: int) -> tuple[int, int, bool]:
    """Read the head ``buf[:end]`` (without the final blank line).

    Returns ``(status, length, keep_alive)`` where ``length`` is the Content-Length,
    ``CHUNKED`` or ``UNTIL_CLOSE``.
    """
    if buf[:5] != b"HTTP/" or end < 12 or buf[8:9] != b" ":
        raise Malformed("bad status line")
    try:
        status = int(buf[9:12])
    except ValueError:
        raise Malformed("bad status code") from None
    keep_alive = buf[5:8] == b"1.1"
    length = UNTIL_CLOSE
    chunked = False
    lines = bytes(buf[:end]).split(b"\r\n")
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise Malformed("header line without ':'")
        name = name.lower()
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise Malformed("bad Content-Length") from None
            if length < 0:
                raise Malformed("negative Content-Length")
        elif name == b"transfer-encoding":
            chunked = value.strip().lower().endswith(b"chunked")
        elif name == b"connection":
            tokens = value.lower()
            if b"close" in tokens:
                keep_alive = False
            elif b"keep-alive" in tokens:
                keep_alive = True
    # Transfer-Encoding wins over Content-Length (RFC 9112 section 6.3).
    return status, CHUNKED if chunked else length, keep_alive


def parse_headers(head: bytes) -> dict[str, str]:
    """Headers of a response head as a dict with lower-cased names.

    Repeated fields are joined with ``", "`` (lossy only for ``Set-Cookie``).
    """
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        key = name.decode("latin-1").strip().lower()
        text = value.decode("latin-1").strip()
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def scan_chunked(
    buf: bytes | bytearray, pos: int, body: list[bytes] | None = None
) -> tuple[bool, int]:
    """Walk the chunks of a chunked body starting at ``buf[pos]``.

    Returns ``(done, pos)``: when done, ``pos`` is the end of the message (after the
    trailers); otherwise it is where to resume once more bytes arrive. Chunk data is
    appended to ``body`` when given.
    """
    size_buf = len(buf)
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            if size_buf - pos > 1024:
                raise Malformed("chunk size line too long")
            return False, pos
        size_field = bytes(buf[pos:eol]).partition(b";")[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise Malformed("bad chunk size") from None
        if size < 0:
            raise Malformed("bad chunk size")
        if size == 0:
            # The last chunk is followed by optional trailer lines and a blank line; the
            # first CRLFCRLF from the end of the size line closes the message either way.
            end = buf.find(b"\r\n\r\n", eol)
            if end < 0:
                if size_buf - eol > MAX_HEAD:
                    raise Malformed("trailers too long")
                return False, pos
            return True, end + 4
        data_end = eol + 2 + size
        if data_end + 2 > size_buf:
            return False, pos
        if buf[data_end : data_end + 2] != b"\r\n":
            raise Malformed("chunk not followed by CRLF")
        if body is not None:
            body.append(bytes(buf[eol + 2 : data_end]))
        pos = data_end + 2
