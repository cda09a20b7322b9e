"""Free text (Vietnamese with diacritics) read from an HTTP header value.

Header values are bytes on the wire; Starlette, like every ASGI stack, decodes them as
Latin-1. A client that puts UTF-8 in a header (curl, httpx, Node, Java do so when given a
Vietnamese string) then arrives as mojibake: ``Luật`` reads ``Luáº­t``. :func:`header_text`
undoes that and also accepts the two ASCII-safe spellings:

- raw UTF-8 bytes: ``X-Legal-Basis: Luật Cư trú 2020``;
- percent-encoded UTF-8: ``X-Legal-Basis: Lu%E1%BA%ADt C%C6%B0 tr%C3%BA 2020``;
- an RFC 8187 ext-value: ``X-Legal-Basis: UTF-8''Lu%E1%BA%ADt%20C%C6%B0%20tr%C3%BA%202020``.

Text that is not valid UTF-8 once re-encoded stays as Latin-1 read it (a client that really
sent Latin-1 ``é`` as one byte keeps it); a Latin-1 string that happens to be valid UTF-8 as
bytes (``Ã©``) is taken as UTF-8, which in practice is what such bytes always are.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["header_text"]

# RFC 8187 §3.2.1: ext-value = charset "'" [ language ] "'" value-chars
_EXT_VALUE = re.compile(r"(?i)^(utf-8|iso-8859-1)'[a-z0-9-]*'([!#$%&+\-.^_`|~0-9a-z]*)$")


def header_text(value: str | None) -> str:
    """``value`` (as the ASGI server decoded it, Latin-1) as the text the client meant."""
    text = (value or "").strip()
    ext = _EXT_VALUE.match(text)
    if ext is not None:
        try:
            return unquote(ext[2], encoding=ext[1].lower(), errors="strict")
        except UnicodeDecodeError:
            return text  # not what it said it was: keep it as sent, visibly
    if not text.isascii():
        try:
            text = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # really Latin-1 (or already text): keep it
    return unquote(text) if "%" in text else text
