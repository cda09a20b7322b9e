"""Free text from header values: raw UTF-8 (as Latin-1 decoded it), percent, RFC 8187."""

from __future__ import annotations

import pytest

from sim06.services.common.header_text import header_text

TEXT = "Luật Cư trú 2020"


def _as_asgi(raw: bytes) -> str:
    return raw.decode("latin-1")  # what Starlette hands the application


@pytest.mark.parametrize(
    "raw",
    [
        TEXT.encode(),
        b"  " + TEXT.encode() + b" ",
        b"Lu%E1%BA%ADt C%C6%B0 tr%C3%BA 2020",
        b"UTF-8''Lu%E1%BA%ADt%20C%C6%B0%20tr%C3%BA%202020",
        b"utf-8'vi'Lu%E1%BA%ADt%20C%C6%B0%20tr%C3%BA%202020",
    ],
)
def test_each_spelling_reads_as_the_vietnamese_text(raw: bytes) -> None:
    assert header_text(_as_asgi(raw)) == TEXT


def test_latin1_ascii_and_odd_values_are_kept() -> None:
    assert header_text(_as_asgi("Décret 104".encode("latin-1"))) == "Décret 104"  # one byte é
    assert header_text(_as_asgi(b"Nghi dinh 104/2022/ND-CP")) == "Nghi dinh 104/2022/ND-CP"
    assert header_text(_as_asgi(b"ISO-8859-1''D%E9cret")) == "Décret"
    assert header_text(_as_asgi(b"UTF-8''D%E9cret")) == "UTF-8''D%E9cret"  # not UTF-8: as sent
    assert header_text(_as_asgi(b"100% sure")) == "100% sure"  # not an escape
    assert header_text(None) == ""
