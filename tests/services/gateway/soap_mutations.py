"""A seeded mutator of SOAP envelopes for the fuzz tests: byte flips, truncation, encodings,
duplicated, removed and renamed elements, foreign namespaces, DTD and entity tricks, junk,
depth, wrong types, and combinations of these."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

ENCODINGS = (
    "x-evil-9", "UTF-16", "utf-32", "ebcdic-cp-us", "ISO-8859-1", "windows-1258", "",
    "UTF-8\x00", "utf-8'?><x", "koi8-r", "US-ASCII", "UTF-7", "ISO-2022-JP", "\u00e9", "nope" * 40,
)  # fmt: skip
DTDS = (
    b'<!DOCTYPE e [<!ENTITY x "y">]>',
    b'<!DOCTYPE e SYSTEM "file:///etc/passwd">',
    b'<!DOCTYPE e [<!ENTITY x SYSTEM "http://127.0.0.1:1/x">]>',
    b'<!DOCTYPE e [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE e PUBLIC "-//x//y" "http://127.0.0.1:1/y.dtd">',
    b"<!DOCTYPE e [<!ELEMENT e ANY>]>",
)
JUNK = (
    b"&x;", b"&#0;", b"&#xD800;", b"&#x1F;", b"<![CDATA[", b"]]>", b"<", b"&", b"\x00", b"\x1b",
    b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"<?x y?>", b"<!-- -- -->", b"<!--",
    b"\xef\xbb\xbf", b"'", b'"', b"=", b"</>", b"<a:b:c/>", b" xmlns:dan='urn:x'",
    "\u0103".encode(), b"<?xml version='1.0'?>", b"\r\n", b"\t",
)  # fmt: skip
NAMESPACES = (
    b"http://dancuquocgia.bca/", b"http://DanCuQuocGia.bca", b"urn:x", b"",
    b"http://schemas.xmlsoap.org/soap/envelope", b"http://www.w3.org/2003/05/soap-envelope",
    b"http://gtel.vn/qldc", b"http://www.mic.gov.vn/dancu/1.0", b"http://dancuquocgia.bca",
)  # fmt: skip
_LEAF = re.compile(rb"<([A-Za-z]+:)?([A-Za-z]+)>[^<]*</\1\2>")
_START = re.compile(rb"<([A-Za-z]+:)?([A-Za-z]+)[ >/]")
_NS = re.compile(rb'xmlns(?::[A-Za-z]+)?="([^"]*)"')
_DECL = re.compile(rb"<\?xml[^>]*\?>")


def _pick(rng: random.Random, pattern: re.Pattern[bytes], doc: bytes) -> re.Match[bytes] | None:
    found = list(pattern.finditer(doc))
    return rng.choice(found) if found else None


def _flip(rng: random.Random, doc: bytes) -> bytes:
    out = bytearray(doc)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _truncate(rng: random.Random, doc: bytes) -> bytes:
    return doc[: rng.randrange(len(doc))]


def _encoding(rng: random.Random, doc: bytes) -> bytes:
    decl = f'<?xml version="1.0" encoding="{rng.choice(ENCODINGS)}"?>'.encode()
    body = _DECL.sub(b"", doc)
    if rng.random() < 0.3:  # declared and actual encodings that agree, for the codecs that exist
        name = rng.choice(("utf-16", "utf-32", "latin-1", "cp1258"))
        try:
            text = body.decode("utf-8")
            return f'<?xml version="1.0" encoding="{name}"?>'.encode(name) + text.encode(name)
        except (UnicodeError, LookupError):
            pass
    return decl + body


def _duplicate(rng: random.Random, doc: bytes) -> bytes:
    m = _pick(rng, _LEAF, doc)
    return doc if m is None else doc[: m.end()] + m.group(0) + doc[m.end() :]


def _remove(rng: random.Random, doc: bytes) -> bytes:
    m = _pick(rng, _LEAF, doc)
    return doc if m is None else doc[: m.start()] + doc[m.end() :]


def _rename(rng: random.Random, doc: bytes) -> bytes:
    m = _pick(rng, _START, doc)
    if m is None:
        return doc
    new = rng.choice((b"X", b"MaYeuCau", b"Body", b"Envelope", m.group(2).lower(), m.group(2) * 2))
    prefix = rng.choice((m.group(1) or b"", b"", b"dan:", b"qldc:", b"soapenv:", b"nope:"))
    start = m.start() + 1
    return doc[:start] + prefix + new + doc[start + len(m.group(1) or b"") + len(m.group(2)) :]


def _namespace(rng: random.Random, doc: bytes) -> bytes:
    m = _pick(rng, _NS, doc)
    if m is None:
        return doc
    return doc[: m.start(1)] + rng.choice(NAMESPACES) + doc[m.end(1) :]


def _dtd(rng: random.Random, doc: bytes) -> bytes:
    body = _DECL.sub(b"", doc)
    at = body.find(b"<dan:MaYeuCau>")
    if at >= 0 and rng.random() < 0.5:
        body = body[: at + 14] + rng.choice((b"&x;", b"&b;", b"&a;")) + body[at + 14 :]
    return b'<?xml version="1.0"?>' + rng.choice(DTDS) + body


def _junk(rng: random.Random, doc: bytes) -> bytes:
    at = rng.randrange(len(doc) + 1)
    return doc[:at] + rng.choice(JUNK) + doc[at:]


def _deep(rng: random.Random, doc: bytes) -> bytes:
    depth = rng.choice((50, 255, 300, 2000))
    at = doc.find(b"<soapenv:Body>") + len(b"<soapenv:Body>")
    return doc[:at] + b"<d>" * depth + b"</d>" * depth + doc[at:]


def _structure(rng: random.Random, doc: bytes) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:
        return doc.replace(b"</soapenv:Body>", b"</soapenv:Body><soapenv:Body/>")
    if choice == 1:
        return doc.replace(b"<soapenv:Body>", b"<soapenv:Header/><soapenv:Body>")
    if choice == 2:
        at = doc.find(b"<soapenv:Body>") + len(b"<soapenv:Body>")
        end = doc.find(b"</soapenv:Body>")
        return doc[:end] + doc[at:end] + doc[end:]  # the request twice
    return doc.replace(b"</soapenv:Envelope>", b"</soapenv:Envelope><soapenv:Envelope/>")


def _value(rng: random.Random, doc: bytes) -> bytes:
    m = _pick(rng, _LEAF, doc)
    if m is None:
        return doc
    value = rng.choice((b"19x0", b"1990-01-01", b"x" * 400, b"<i>1</i>", b"", b" 1990 ", b"-1"))
    inner = m.start() + m.group(0).index(b">") + 1
    close = m.end() - len(m.group(1) or b"") - len(m.group(2)) - 3
    return doc[:inner] + value + doc[close:]


MUTATIONS: tuple[Callable[[random.Random, bytes], bytes], ...] = (
    _flip, _truncate, _encoding, _duplicate, _remove, _rename, _namespace, _dtd, _junk, _deep,
    _structure, _value,
)  # fmt: skip


def mutate(rng: random.Random, doc: bytes) -> bytes:
    """One to three random mutations of ``doc``."""
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        doc = rng.choice(MUTATIONS)(rng, doc) or doc[:1]
    return doc
