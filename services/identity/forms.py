"""``application/x-www-form-urlencoded`` bodies of the OAuth endpoints (RFC 6749 §3.2, §B).

Parsed here rather than by a multipart library: the token endpoint is a hot path, and
RFC 6749 §3.2 forbids repeating a parameter, which generic form parsers silently allow.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from sim06.services.identity.errors import OAuthError

__all__ = ["read_form", "single"]

FORM = "application/x-www-form-urlencoded"


def single(items: list[tuple[str, str]]) -> dict[str, str]:
    """A dict of parameters; a repeated one is ``invalid_request``, and one sent without a
    value is treated as omitted (RFC 6749 §3.1 and §3.2)."""
    params: dict[str, str] = {}
    for key, value in items:
        if key in params:
            raise OAuthError("invalid_request", f"parameter {key} is repeated")
        params[key] = value
    return {key: value for key, value in params.items() if value}


async def read_form(request: Request) -> dict[str, str]:
    """The form body of a POST, or ``invalid_request``."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM:
        raise OAuthError("invalid_request", f"the body must be {FORM}")
    body = await request.body()
    try:
        text = body.decode("utf-8")
        items = parse_qsl(text, keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the form body cannot be parsed") from None
    return single(items)
