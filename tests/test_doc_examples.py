"""The README's and docs' shell examples, run verbatim against a fresh ``sim06 up``.

A reader pastes them after ``make run``: the same default ports, the same working directory
(a scratch copy of the checkout made of symlinks, so the examples' ``certs/`` and ``.sim06/``
land there), a fresh data directory. ``scripts/run_doc_examples.py`` does the running; these
tests check it can fail, then run it on every document.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SIM06 = str(Path(sys.executable).with_name("sim06"))
# The ports the README names: make run's defaults.
PORTS = {"gateway": 8000, "registry": 8001, "identity": 8002, "procedures": 8003, "admin": 8004}
TLS_PORT = 8443
LEFT_OUT = {".git", ".sim06", "certs", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "run_doc_examples", ROOT / "scripts/run_doc_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


runner = _load_runner()


def test_a_failing_command_an_empty_curl_and_a_5xx_each_fail(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "```sh\nX=1\n```\n\n"  # sets a variable the next block reads: one session per file
        '```sh\ntest "$X" = 1 && echo ok\n```\n\n'
        "```sh\nfalse\necho after\n```\n\n"
        "<!-- doc-examples: skip (needs a printer) -->\n```sh\nlp report.pdf\n```\n\n"
        "<!-- doc-examples: alone (serves) -->\n```sh\nsleep 30 &\n```\n\n"
        "```sh\ncurl() { :; }; curl -s http://127.0.0.1:1/\n```\n\n"
        '```sh\necho \'{"status": 503, "code": "X"}\'\n```\n\n'
        "```python\nraise SystemExit(1)\n```\n",
        encoding="utf-8",
    )
    blocks = runner.blocks_of(doc)
    assert [b.mode for b in blocks] == ["run", "run", "run", "skip", "alone", "run", "run"]
    failures = runner.run_file(blocks, tmp_path, 30)
    assert [(b.line, why.split("\n")[0]) for b, why in failures] == [
        (9, "exit 1"),
        (24, "printed nothing"),
        (28, "a 5xx answer"),
    ]
    started = time.monotonic()  # the alone block's background job is stopped, not waited out
    assert runner.run_file(blocks, tmp_path, 30, "alone") == []
    assert time.monotonic() - started < 10


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Up:
    """``sim06 up`` in a scratch copy of the checkout, on the default ports."""

    def __init__(self, work: Path, log: Path) -> None:
        self.work, self.log = work, log
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIM06_")}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [SIM06, "up"], cwd=work, env=env, stdout=out, stderr=out
            )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        for port in PORTS.values():
            while True:
                if self.process.poll() is not None:
                    pytest.fail(f"sim06 up exited:\n{self.log.read_text()[-3000:]}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"sim06 up not up:\n{self.log.read_text()[-3000:]}")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Up]:
    """What ``make run`` leaves: ``sim06 up`` serving a fresh checkout on the default ports."""
    busy = [p for p in (*PORTS.values(), TLS_PORT) if not _port_free(p)]
    if busy:
        message = f"ports {busy} are taken (is `make run` running?): the README examples use them"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    work = tmp_path / "checkout"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in LEFT_OUT:
            (work / entry.name).symlink_to(entry)
    up = Up(work, tmp_path / "sim06-up.log")
    try:
        up.wait_ready()
        yield up
    finally:
        up.stop()


def _run_examples(work: Path, *flags: str) -> int:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/run_doc_examples.py"), "--root", str(work), *flags],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    return int(done.stdout.rsplit("\n", 2)[-2].split(" blocks run")[0])


@pytest.mark.e2e
@pytest.mark.slow
def test_every_shell_example_in_the_docs_runs_verbatim(make_run: Up) -> None:
    assert _run_examples(make_run.work) >= 12
    # The blocks that start their own services, once make run's are stopped.
    make_run.stop()
    assert _run_examples(make_run.work, "--alone") >= 2
