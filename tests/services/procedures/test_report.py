"""The catalogue report: its HTML renders the Markdown (no ``**`` or backticks left), escaped."""

from __future__ import annotations

import re
from pathlib import Path

from sim06.services.common.latency import ProfileBook
from sim06.services.procedures.catalogue import Catalogue
from sim06.services.procedures.report import render_html, write_report


def test_the_html_report_renders_the_markdown(tmp_path: Path, catalogue: Catalogue) -> None:
    written = write_report(tmp_path, catalogue, ProfileBook.load(None), "typical", runs=50)
    markdown = (tmp_path / "report.md").read_text("utf-8")
    page = (tmp_path / "report.html").read_text("utf-8")
    assert "**" in markdown and "`" in markdown  # the Markdown does use emphasis and code
    text = re.sub(r"<[^>]+>", "", page.split("<body>", 1)[1])  # what a reader sees
    assert "**" not in text and "`" not in text
    assert "<strong>" in page and "<code>" in page and "<h2>" in page
    separators = [line for line in markdown.splitlines() if line.startswith("| ---")]
    assert page.count("<table>") == len(separators)  # every table became a table
    # Each procedure's heading and Vietnamese name are there, with the report's own figures.
    first = catalogue.all()[0]
    assert f"<h2>{first.name_vi} — {first.name_en}</h2>" in page
    if tmp_path / "latency.png" in written:
        assert '<img src="data:image/png;base64,' in page
    else:
        assert "<img" not in page and "latency.png" not in page


def test_html_in_the_text_is_escaped_not_passed_through() -> None:
    page = render_html("# A <script>alert(1)</script> & **bold** `x<y>`\n", None)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<strong>bold</strong>" in page and "<code>x&lt;y&gt;</code>" in page
