"""Run the shell examples of the README and docs/ verbatim against a running ``make run``.

Every fenced block whose info string is ``sh`` or ``bash`` in README.md, docs/*.md and
examples/**/README.md is run, file by file, in one bash session per file (as a reader pastes
them into one terminal: a variable set by one block is there for the next), with ``set -e`` and
``pipefail``. A block that cannot run against the services ``make run`` started says so just
above it with an HTML comment, which the reader sees in the source and this script obeys::

    <!-- doc-examples: skip (needs Docker) -->
    <!-- doc-examples: alone (starts its own services: stop make run first) -->

``alone`` blocks run only with ``--alone``, when nothing serves the default ports; the services
a block starts in the background are stopped (SIGTERM, then waited for) at its end.

A block fails when a command in it fails where ``set -e`` would stop (``curl -s`` of a refused
connection exits 7), when its output holds a problem with a 5xx ``status`` (``curl`` exits 0 on
any answer), or when it runs ``curl`` and prints nothing at all.

Usage: ``python scripts/run_doc_examples.py [--root DIR] [--alone] [FILES...]``; exit 0 when
all pass.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```", re.S | re.M)
MARK = re.compile(r"<!--\s*doc-examples:\s*(?P<mode>skip|alone)\b[^>]*-->\s*$")
SHELLS = {"sh", "bash", "shell"}
SERVER_ERROR = re.compile(r'"status"\s*:\s*5\d\d')


@dataclass(frozen=True)
class Block:
    """One fenced shell block: where it is and what it says."""

    path: Path
    line: int
    body: str
    mode: str  # "run" (after make run), "alone" (nothing else serving) or "skip"

    @property
    def skipped(self) -> bool:
        """Marked as never run here."""
        return self.mode == "skip"


def blocks_of(path: Path) -> list[Block]:
    """The shell blocks of one Markdown file, in order, with their skip marks."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        if match.group("info").strip().split(" ")[0] not in SHELLS:
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        line = text.count("\n", 0, match.start()) + 1
        mark = MARK.search(before)
        found.append(Block(path, line, match.group("body"), mark.group("mode") if mark else "run"))
    return found


def documents(root: Path) -> list[Path]:
    """README.md, docs/*.md and the examples' READMEs under ``root``."""
    paths = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    paths += sorted((root / "examples").glob("**/README.md"))
    return [p for p in paths if p.is_file()]


def run_file(
    blocks: list[Block], root: Path, timeout: float, mode: str = "run"
) -> list[tuple[Block, str]]:
    """Run one file's blocks of ``mode`` in one bash session; the failures with their output."""
    failures: list[tuple[Block, str]] = []
    # One session, as a reader's terminal: variables set by a block are there for the next.
    # The ERR trap notes every command that fails where ``set -e`` would stop, without
    # stopping, so each block is judged on its own.
    script = ["set -o pipefail", "trap 'printf \"\\n@@err %s\\n\" $?' ERR"]
    runnable = [b for b in blocks if b.mode == mode]
    # What an alone block started in the background is stopped before the next one starts.
    stop = "kill $(jobs -p) 2>/dev/null; wait 2>/dev/null" if mode == "alone" else ":"
    for i, block in enumerate(runnable):
        script += [f"printf '\\n@@begin {i}\\n'", block.body, f"printf '\\n@@end {i}\\n'"]
        script += ["trap - ERR", stop, "trap 'printf \"\\n@@err %s\\n\" $?' ERR"]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout
    for i, block in enumerate(runnable):
        section = re.search(rf"^@@begin {i}\n(.*?)^@@end {i}$", output, re.S | re.M)
        if section is None:
            failures.append((block, f"did not finish\n{done.stderr[-2000:]}"))
            continue
        text = section.group(1)
        errors = re.findall(r"^@@err (\d+)$", text, re.M)
        if errors:
            failures.append((block, f"exit {errors[0]}\n{text[-2000:]}"))
        elif SERVER_ERROR.search(text):
            failures.append((block, f"a 5xx answer\n{text[-2000:]}"))
        elif "curl" in block.body and not text.strip():
            failures.append((block, "printed nothing"))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--alone", action="store_true", help="run the blocks marked alone (nothing serving)"
    )
    args = parser.parse_args(argv)
    mode = "alone" if args.alone else "run"
    paths = args.files or documents(args.root)
    failed = ran = skipped = 0
    for path in paths:
        blocks = blocks_of(path)
        skipped += sum(b.mode != mode for b in blocks)
        ran += sum(b.mode == mode for b in blocks)
        for block, why in run_file(blocks, args.root, args.timeout, mode):
            failed += 1
            print(f"FAIL {block.path}:{block.line}: {why}")
    print(f"{ran} blocks run, {failed} failed, {skipped} left to another run or skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
