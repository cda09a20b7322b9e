"""The chip contract's published patterns and what the service accepts are the same sets."""

from __future__ import annotations

import itertools
import re

import httpx
import pytest

from sim06.mock_registry import qr
from sim06.services.chip import schemas
from tests.services.chip.test_api import ADULT, assert_problem, read

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _decodes(text: str) -> bool:
    try:
        schemas.decode_base64(text)
    except ValueError:
        return False
    return True


def test_decode_base64_takes_exactly_the_published_pattern() -> None:
    published = re.compile(schemas.B64_PATTERN)
    enforced = re.compile(schemas.B64_CHARS)
    for n in range(9):
        for chars in itertools.product("Ab=\n", repeat=n):
            text = "".join(chars)
            assert _decodes(text) == bool(published.fullmatch(text)), repr(text)
            assert not published.fullmatch(text) or enforced.fullmatch(text), repr(text)


def test_the_qr_pattern_takes_what_the_decoder_takes() -> None:
    record_text = "001090104217||Nguyễn Văn An|12051990|Nam|Thôn 10, Hà Nội|01072021"
    for text in (record_text, record_text + "|001090104218,|Cha|Mẹ", "\r\n" + record_text):
        qr.decode(text)
        assert schemas.QR_TEXT.fullmatch(text), text
    for text in (record_text.replace("|Nam|", "|nam|"), "a|b|c", record_text + "|x"):
        assert not schemas.QR_TEXT.fullmatch(text), text


@pytest.mark.anyio
async def test_surplus_padding_is_an_invalid_chip_file(client: httpx.AsyncClient) -> None:
    files = await read(client, ADULT)
    r = await client.post("/v1/chip/verify", json={**files, "sodData": "AAAA="})
    body = assert_problem(r, 422, "INVALID_CHIP_FILE")
    assert body["errors"][0]["pointer"] == "/sodData"


@pytest.mark.anyio
async def test_qr_digits_must_be_ascii(client: httpx.AsyncClient) -> None:
    text = (await client.get(f"/v1/cards/{ADULT}/qr")).json()["text"]
    assert (await client.post("/v1/cards/qr/parse", json={"text": text})).status_code == 200
    pin, rest = text.split("|", 1)
    r = await client.post(
        "/v1/cards/qr/parse", json={"text": pin.translate(ARABIC_INDIC) + "|" + rest}
    )
    assert assert_problem(r, 422, "INVALID_QR_PAYLOAD")["errors"][0]["rule"] == "pattern"
