"""Start servers as subprocesses on 127.0.0.1 for benchmarks, and pin processes to CPUs."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["ServerProcess", "ServerStartError", "free_port", "pin_cpu", "start_uvicorn"]


class ServerStartError(RuntimeError):
    """The server exited or did not answer its health path in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pin_cpu(pid: int, cpu: int | Collection[int]) -> bool:
    """Restrict process ``pid`` (0: this one) to ``cpu``; False where that is unsupported.

    Only the given thread/process is moved: pin before starting workers or threads
    that should inherit the mask.
    """
    cpus = {cpu} if isinstance(cpu, int) else set(cpu)
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(pid, cpus)
    except (OSError, ValueError):  # CPU absent (e.g. a 1-core container) or not permitted
        return False
    return True


class ServerProcess:
    """A running server subprocess; a context manager that stops it on exit."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: str) -> None:
        self.process = process
        self.port = port
        self._log = log

    @property
    def pid(self) -> int:
        """Process id of the server (the uvicorn supervisor when ``workers > 1``)."""
        return self.process.pid

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """What the server wrote on stderr so far."""
        with open(self._log, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def wait_healthy(self, path: str = "/", timeout: float = 20.0) -> None:
        """Poll ``path`` until it answers with a status below 500, or raise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"server exited with {self.process.returncode}:\n{self.log()}"
                )
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.5)
            try:
                conn.request("GET", path)
                if conn.getresponse().status < 500:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(f"server did not answer {path} within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server and wait for it (kill if it lingers)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            os.unlink(self._log)
        except FileNotFoundError:
            pass

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_uvicorn(
    app_path: str,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    factory: bool = False,
    extra_args: Sequence[str] = (),
    health_path: str = "/",
    health_timeout: float = 20.0,
    cpus: Collection[int] | None = None,
    cwd: str | None = None,
    http_protocol: str = "httptools",
) -> ServerProcess:
    """Start ``python -m uvicorn app_path`` on 127.0.0.1 and wait until it is healthy.

    Uses uvloop and httptools, no access log and log level warning. ``env`` is added to
    this process's environment. ``cpus`` pins the server (and its workers, which inherit
    the mask) to those CPUs from the start. ``http_protocol``: uvicorn's HTTP protocol, a name or
    ``module:Class`` (e.g. :data:`~services.common.admission_http.PROTOCOL`).
    """
    port = free_port() if port is None else port
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app_path,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        http_protocol,
        "--no-access-log",
        "--log-level",
        "warning",
        *(["--factory"] if factory else []),
        *extra_args,
    ]
    # The child needs PATH, the venv and the like; env only adds to them.
    child_env = {**os.environ, **env} if env is not None else None
    log_fd, log_path = tempfile.mkstemp(prefix="sim06-server-", suffix=".log")
    saved = _affinity_for_children(cpus)
    try:
        process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=log_fd, env=child_env, cwd=cwd
        )
    finally:
        os.close(log_fd)
        if saved is not None:
            pin_cpu(0, saved)
    server = ServerProcess(process, port, log_path)
    try:
        server.wait_healthy(health_path, health_timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _affinity_for_children(cpus: Collection[int] | None) -> set[int] | None:
    # A child inherits the mask of the thread that forks it, so narrowing ours around
    # Popen pins every uvicorn worker too, which pinning the supervisor later would not.
    if cpus is None or not hasattr(os, "sched_getaffinity"):
        return None
    saved = os.sched_getaffinity(0)
    return saved if pin_cpu(0, cpus) else None
