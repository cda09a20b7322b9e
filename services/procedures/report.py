"""The catalogue report (documents eliminated, lookups, writes, critical path, simulated
latency) and the report of one run (:func:`run_text`; its JSON is ``RunResult.as_dict``).

End-to-end latency is simulated, not measured: each run draws every hop's delay from the latency
profile (a VNeID login is three identity hops: authorize, token, userinfo; a gateway operation,
a write or one page of the change feed is a gateway hop plus a registry hop; a document an agency
issues in its own system costs nothing here), a stage lasts as long as its slowest step, and a
run is the sum of its stages. The agencies' access tokens are cached, so they cost nothing per
run. The figures are only as good as the profile, whose numbers are assumptions (domain §6.5:
none published). A run's own report gives the measured latency of each step and each agency.
"""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from sim06.services.common.faults import percentile
from sim06.services.common.latency import Profile, ProfileBook, sample_delay
from sim06.services.procedures.catalogue import Catalogue
from sim06.services.procedures.model import READ_KINDS, Procedure, Step
from sim06.services.procedures.runner import RunResult

HOPS: dict[str, tuple[str, ...]] = {"vneid-login": ("identity",) * 3, "issue": ()}
GATEWAY_HOPS = ("gateway", "registry")


def hops_of(step: Step) -> tuple[str, ...]:
    return HOPS.get(step.kind, GATEWAY_HOPS)


def simulate(procedure: Procedure, profile: Profile, runs: int, seed: int) -> list[float]:
    """End-to-end milliseconds of ``runs`` simulated runs (seeded: same seed, same list)."""
    rng = random.Random(f"{seed}:{procedure.key}")
    totals = []
    for _ in range(runs):
        total = 0.0
        for stage in procedure.stages:
            total += max(
                sum((sample_delay(profile, hop, rng.random(), hour=12) for hop in hops_of(s)),
                    0.0)
                for s in stage
            )  # fmt: skip
        totals.append(total)
    return totals


@dataclass(frozen=True)
class Summary:
    """One procedure's line of the report."""

    procedure: Procedure
    documents: int
    eliminated: int
    lookups: int
    writes: int
    agencies: int
    logins: int
    critical_path: str
    p50: float
    p95: float
    p99: float


def critical_path(procedure: Procedure, profile: Profile) -> str:
    """The step of each stage with the largest median cost, ``a → b → c``."""
    names = []
    for stage in procedure.stages:
        slowest = max(stage, key=lambda s: sum(profile.hop(h).p50 for h in hops_of(s)))
        names.append(slowest.id if len(stage) == 1 else f"{slowest.id} (of {len(stage)})")
    return " → ".join(names)


def summarize(procedure: Procedure, profile: Profile, runs: int, seed: int) -> Summary:
    totals = sorted(simulate(procedure, profile, runs, seed))
    steps = procedure.steps()
    return Summary(
        procedure=procedure,
        documents=len(procedure.documents),
        eliminated=sum(d.status == "replaced" for d in procedure.documents),
        lookups=sum(s.kind in READ_KINDS for s in steps),
        writes=sum(s.kind == "write" for s in steps),
        agencies=1 + len(procedure.agencies),
        logins=sum(s.kind == "vneid-login" for s in steps),
        critical_path=critical_path(procedure, profile),
        p50=percentile(totals, 0.50),
        p95=percentile(totals, 0.95),
        p99=percentile(totals, 0.99),
    )


def plot_png(summaries: list[Summary], profile_name: str) -> bytes | None:
    """A bar chart of p50/p95/p99 per procedure (None when matplotlib is not installed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = [s.procedure.key for s in summaries]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.5))
    ys = range(len(names))
    for offset, (label, attr) in enumerate((("p50", "p50"), ("p95", "p95"), ("p99", "p99"))):
        ax.barh([y + (offset - 1) * 0.27 for y in ys], [getattr(s, attr) for s in summaries],
                height=0.27, label=label)  # fmt: skip
    ax.set_yticks(list(ys), names)
    ax.invert_yaxis()
    ax.set_xlabel("end-to-end latency (ms, simulated)")
    ax.set_title(f"Procedure latency under profile '{profile_name}'")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _ms(value: float) -> str:
    return f"{value:,.0f}"


def render_markdown(summaries: list[Summary], profile_name: str, runs: int, plot: bool) -> str:
    before = sum(s.documents for s in summaries)
    gone = sum(s.eliminated for s in summaries)
    lines = [
        f"# Procedures without paper — report (latency profile `{profile_name}`)", "",
        f"**{gone} of {before} paper documents eliminated** across {len(summaries)} procedures "
        f"(replaced by a lookup, a linked registration or the change feed); the rest are still "
        f"required, each with its reason below. "
        f"Latency: {runs:,} simulated runs per procedure; the profile's figures are assumptions "
        "(no official latency is published).", "",
        "| Procedure | Level | Documents | Eliminated | Lookups | Writes | Agencies | Logins "
        "| Critical path | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]  # fmt: skip
    for s in summaries:
        p = s.procedure
        lines.append(
            f"| {p.name_en} (`{p.key}`) | {p.level} | {s.documents} | {s.eliminated} | "
            f"{s.lookups} | {s.writes} | {s.agencies} | {s.logins} | {s.critical_path} | "
            f"{_ms(s.p50)} | {_ms(s.p95)} | {_ms(s.p99)} |"
        )
    lines += [f"| **Total** | | **{before}** | **{gone}** | "
              f"{sum(s.lookups for s in summaries)} | {sum(s.writes for s in summaries)} "
              "| | | | | | |", ""]  # fmt: skip
    if plot:
        lines += ["![latency per procedure](latency.png)", ""]
    for s in summaries:
        p = s.procedure
        lines += [
            f"## {p.name_vi} — {p.name_en}",
            "",
            f"Code `{p.code}` (national code: {p.national_code or 'unknown'} "
            f"[{p.national_code_basis.tag}]); {p.authority_en}. "
            f"Source [{p.basis.tag}]: {p.basis.source}",
            "",
            "| Document before Project 06 | Now | By / why |",
            "| --- | --- | --- |",
        ]
        for d in p.documents:
            if d.replaced_by is not None:
                r = d.replaced_by
                how = f"{r.service} {r.operation} ({', '.join(r.fields)}; purpose {r.purpose})"
            else:
                how = d.still_required_because or ""
            lines.append(f"| {d.name_vi} / {d.name_en} [{d.basis.tag}] | {d.status} | {how} |")
        stages = " → ".join(" ‖ ".join(st.id for st in stage) for stage in p.stages)
        lines += ["", f"Steps (‖ = in parallel): {stages}", ""]
        if p.agencies or any(st.kind == "write" for st in p.steps()):
            lines += ["Agencies (each step runs as the agency that owns it):", ""]
            for key, owner in [("lead", p.agency), *p.agencies.items()]:
                own = [st.id for st in p.steps() if st.kind != "vneid-login"
                       and (st.agency or "lead") == key]  # fmt: skip
                lines.append(
                    f"- {key}: `{owner.client_id}`, procedure `{owner.code or p.code}`, purpose "
                    f"`{owner.purpose}`, officer `{owner.officer}` — steps {', '.join(own)}"
                    + (f". {owner.role_en}" if owner.role_en else "")
                )
            lines.append("")
        lines += ["Decision rules (evaluated before the first write, and at the end):", ""]
        for rule in p.rules:
            persona = next(c.persona for c in p.cases if rule.id in c.rules)
            lines.append(
                f"- `{rule.id}` ({rule.outcome}, [{rule.basis.tag}]): {rule.reason_en} — "
                f"persona `{persona}`"
            )
        lines.append("")
    return "\n".join(lines)


def run_text(result: RunResult) -> str:
    """One run as the CLI prints it: steps, each agency's part, outputs, papers, decision."""
    lines = [f"{result.procedure} ({result.code}) for {result.persona}, run {result.run_id}"
             + (f", profile {result.profile}" if result.profile else "")]  # fmt: skip
    roles = ", ".join(f"{k}={v or '-'}" for k, v in result.roles.items())
    lines.append(f"  roles: {roles}")
    for step in result.steps:
        lines.append(
            f"  [{step.stage}] {step.id:15} {step.kind:12} {step.agency or 'citizen':20} "
            f"{step.pin or '-':12} {step.status:9} {step.ms:8.1f} ms  {step.requests} req  "
            f"{step.detail}".rstrip()
        )
    lines.append(f"  stages: {' + '.join(f'{ms:.1f}' for ms in result.stage_ms)} "
                 f"= {result.total_ms:.1f} ms")  # fmt: skip
    lines.append("  hops (each agency with its own token, procedure, purpose and officer):")
    for hop in result.hops:
        who = (
            f"{hop['client_id']} ({hop['agency_code']}) {hop['procedure']} "
            f"purpose {hop['purpose']} officer {hop['officer']}"
            if hop["client_id"]
            else str(hop["agency"])
        )
        lines.append(
            f"    {hop['hop']:16} {hop['outcome']:9} {hop['ms']:8.1f} ms  {who}  "
            f"[{', '.join(hop['steps'])}]"
        )
    for step_id, data in result.outputs.items():
        shown = ", ".join(
            f"{k}={v}" for k, v in data.items() if k not in ("operation", "mock") and v is not None
        )
        mark = " (MOCK)" if data.get("mock") else ""
        lines.append(f"  output {step_id}{mark}: {shown}")
    papers = result.papers
    lines.append(f"  papers: {papers.get('eliminated', 0)} of {papers.get('before', 0)} eliminated")
    for doc in result.documents:
        mark = (
            f"replaced by {doc['step']} ({doc['step_status']})"
            if doc["status"] == "replaced"
            else "still required"
        )
        lines.append(f"  document {doc['id']:36} {mark}")
    closing = (
        f"dossier closed in {result.total_ms:.1f} ms end to end"
        if result.closed
        else f"{result.total_ms:.1f} ms end to end"
    )
    lines.append(f"  DECISION: {result.decision.upper()} — {closing}")
    for rule in result.rules:
        lines.append(f"    {rule['outcome']}: {rule['id']} — {rule['reason_en']}")
    return "\n".join(lines)


PLOT_LINK = "![latency per procedure](latency.png)"


def render_html(markdown_text: str, png: bytes | None) -> str:
    """A standalone HTML page of the Markdown report, with the plot embedded as a data URI.

    Rendered by markdown-it (CommonMark with tables): emphasis and code become HTML, and raw
    HTML in the text (a procedure's name or reason) is escaped, never passed through.
    """
    plot = ""
    if png is not None:
        plot = PLOT_LINK.replace("latency.png", "data:image/png;base64," + _b64(png))
    body = str(_MARKDOWN.render(markdown_text.replace(PLOT_LINK, plot)))
    style = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
             "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
             "padding:.25rem .5rem;vertical-align:top}img{max-width:100%}")  # fmt: skip
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>sim06 procedures report</title><style>{style}</style></head><body>"
            + body + "</body></html>\n")  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# html=False: raw HTML in the Markdown is escaped; the table rule is off in CommonMark.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def write_report(
    out: Path, catalogue: Catalogue, book: ProfileBook, profile_name: str,
    runs: int = 2000, seed: int = 6,
) -> list[Path]:  # fmt: skip
    """Write ``report.md``, ``report.html`` and ``latency.png`` (if matplotlib) into ``out``."""
    profile = book.get(profile_name)
    summaries = [summarize(p, profile, runs, seed) for p in catalogue.all()]
    png = plot_png(summaries, profile_name)
    text = render_markdown(summaries, profile_name, runs, png is not None)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.md", out / "report.html"]
    written[0].write_text(text, "utf-8")
    written[1].write_text(render_html(text, png), "utf-8")
    if png is not None:
        (out / "latency.png").write_bytes(png)
        written.append(out / "latency.png")
    return written


__all__ = [
    "Summary", "critical_path", "render_markdown", "run_text", "simulate", "summarize",
    "write_report",
]  # fmt: skip
