"""Contract tooling: breaking-change diff, strict mode, the journal and contract coverage.

diff.py      sim06 contract diff OLD NEW (breaking changes, request vs response direction)
strict.py    StrictContractMiddleware: requests (and responses) checked against the OpenAPI
journal.py   Journal + JournalMiddleware: bounded summaries of the exchanges served
coverage.py  what a client exercised of a contract; text table and JUnit XML
plugin.py    install_contract_tools(app, settings): wires the above into any sim06 app
"""

from sim06.services.contract.coverage import CoverageReport, coverage, junit_xml, render_report
from sim06.services.contract.diff import Change, diff_documents, diff_paths, render_changes
from sim06.services.contract.journal import Journal
from sim06.services.contract.plugin import JOURNAL_PATH, install_contract_tools

__all__ = [
    "JOURNAL_PATH",
    "Change",
    "CoverageReport",
    "Journal",
    "coverage",
    "diff_documents",
    "diff_paths",
    "install_contract_tools",
    "junit_xml",
    "render_changes",
    "render_report",
]
