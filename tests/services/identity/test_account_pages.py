"""The account pages' rendering: claim labels, access-log paging and Vietnam time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

from sim06.services.identity.account_pages import PAGE_SIZE, access_log_page, consents_page
from sim06.services.identity.claim_labels import CLAIM_LABELS, claim_items
from sim06.services.identity.claims import CLAIMS, requested
from sim06.services.identity.pages import consent_page
from sim06.services.identity.qr_pages import app_page

START = datetime(2026, 7, 1, 20, 30, tzinfo=UTC)  # 03:30 the next day in Vietnam


def _entries(n: int) -> list[dict[str, object]]:
    return [
        {"seq": i + 1, "ts": (START + timedelta(minutes=i)).isoformat(), "agency": f"A.{i + 1}",
         "operation": "lookup", "purpose": "residence", "legal_basis": "Luật Cư trú 2020",
         "fields": ["pin"]}
        for i in range(n)
    ]  # fmt: skip


def _render(n: int, page_number: int, **filters: str) -> str:
    response = access_log_page(
        citizen="Nguyễn Văn An", accesses=_entries(n), filters=filters, agencies=(),
        purposes=(), page_number=page_number,
    )  # fmt: skip
    return bytes(response.body).decode()


def _agencies(text: str) -> list[str]:
    return re.findall(r"<code>(A\.\d+)</code>", text)


def test_the_access_log_is_paged_newest_first() -> None:
    total = 2 * PAGE_SIZE + 7
    first = _render(total, 1)
    assert 'id="count">107<' in first
    assert _agencies(first) == [f"A.{i}" for i in range(total, total - PAGE_SIZE, -1)]
    assert 'id="page-prev"' not in first and 'id="page-next"' in first
    assert "1–50 / 107" in first and "page 1 of 3" in first
    last = _render(total, 3, agency="A.1", since="2026-07-01")
    assert _agencies(last) == [f"A.{i}" for i in range(7, 0, -1)]
    assert 'id="page-next"' not in last
    prev = re.search(r'href="([^"]+)" rel="prev"', last)
    assert prev is not None  # the filters stay in the link
    assert unescape(prev[1]) == "/account/access-log?agency=A.1&since=2026-07-01&page=2"
    assert _agencies(_render(total, 99)) == _agencies(last)  # past the end: the last page
    assert 'id="pager"' not in _render(PAGE_SIZE, 1)  # one page: no pager


def test_access_times_are_shown_in_vietnam_time() -> None:
    text = _render(1, 1)
    assert "UTC+7" in text and ">2026-07-02 03:30:00<" in text
    assert 'datetime="2026-07-01T20:30:00+00:00"' in text  # the instant, machine-readable
    assert "20:30" not in re.sub(r'datetime="[^"]+"', "", text)


def test_every_claim_has_a_vietnamese_and_english_label() -> None:
    assert set(CLAIMS) | {"sub"} == set(CLAIM_LABELS)
    assert all(vi and en and vi != en for vi, en in CLAIM_LABELS.values())
    html = claim_items(["NoiDangKyKhaiSinh"])
    assert "Nơi đăng ký khai sinh" in html and "Place of birth registration" in html
    assert "<code>NoiDangKyKhaiSinh</code>" in html  # the identifier stays, for developers


def _claim_lines(html: str) -> list[str]:
    return re.findall(r"<li data-claim=\"[^\"]+\">(.*?)</li>", html)


def test_consent_app_and_consents_pages_label_the_claims() -> None:
    scopes = ["openid", "profile", "vneid_profile"]
    names = ["sub", *requested(scopes)]
    pages = [
        consent_page(tx="t", csrf="c", client_name="Cổng", scopes=scopes, extra=[],
                     citizen="An", redirect_uri="https://rp.example/cb"),
        app_page(txn="t", csrf="c", client_name="Cổng", scopes=scopes, extra=[]),
        consents_page(citizen="An", csrf="c", consents=[
            {"client_id": "portal", "client_name": "Cổng", "scopes": scopes, "at": 0}]),
    ]  # fmt: skip
    for response in pages:
        html = bytes(response.body).decode()
        lines = _claim_lines(html)
        assert len(lines) >= len(names) - 1  # the consents page leaves out sub
        for line in lines:  # a label, then the identifier: never the identifier alone
            label = re.sub(r"<small><code>.*?</code></small>", "", line)
            assert re.sub(r"<[^>]+>", "", label).strip(" /"), line
        assert "Họ tên cha" in html and "Father&#x27;s name" in html
