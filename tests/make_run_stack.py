"""The stack `make run` starts, started the way the Makefile starts it, for tests that drive it from outside.

`make_run_stack(tmp_path)` takes the `run` target's command from the Makefile itself (`make -n run`, so
the test runs what a newcomer runs), with an instance folder of its own and a free port: the embedded
PostgreSQL in instance/pgdata, the demo prepared in it, Flask's server. The log goes under `tmp_path`. The process gets the
environment a shell has, less any AUDITAPP_* setting (so no AUDITAPP_DATABASE_URL: the embedded server
starts); `audit-tools dev-run` adds the generated secret and AUDITAPP_SESSION_COOKIE_SECURE=false.
On exit it is stopped as Ctrl-C stops it (SIGINT), which stops the web server and then PostgreSQL, and
the instance folder is deleted, unless `keep_instance`: then calling it again with the same `tmp_path`
is a re-run of `make run` on the same instance folder.

The instance folder is in the system's temp folder, not under `tmp_path`: run as root, the embedded
PostgreSQL runs as a user of its own, which must reach its data, and every pytest run that starts makes
/tmp/pytest-of-<user> private (0700) again, which would lock a running server out of its own files.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 300  # a cold start: initdb, migrations, the demo's history told through the services
STOP_TIMEOUT = 60


@dataclass
class MakeRunStack:
    url: str  # http://127.0.0.1:<port>
    passwords: dict[str, str]  # demo e-mail -> password (instance/demo-passwords.json)
    log_path: Path  # everything the run printed: PostgreSQL's start, the demo sign-ins, Flask's request log
    instance: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def postgres_pid(self) -> int | None:
        """The embedded PostgreSQL's pid while it runs (instance/pgdata/postmaster.pid), else None."""
        pid_file = self.instance / "pgdata" / "postmaster.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None


def makefile_run_command(host: str, port: int) -> list[str]:
    """The command of the Makefile's `run` target for this host and port (its install step left out)."""
    dry = subprocess.run(["make", "-n", "--no-print-directory", "run", f"HOST={host}", f"PORT={port}"],
                         cwd=REPO, capture_output=True, text=True, check=True)
    lines = [line for line in dry.stdout.splitlines() if " dev-run " in f" {line} "]
    assert len(lines) == 1, f"the Makefile's run target has no single dev-run command:\n{dry.stdout}"
    return shlex.split(lines[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instance_folder(tmp_path: Path) -> Path:
    """The instance folder of the `make run` stacks of `tmp_path` (the same one on every call)."""
    digest = hashlib.sha256(str(tmp_path.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"auditapp-make-run-{digest}" / "instance"


def make_run_env(instance: Path) -> dict[str, str]:
    """A shell's environment without AUDITAPP_* settings, for `make run` on `instance`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITAPP_")}
    env["AUDITAPP_INSTANCE_DIR"] = str(instance)
    return env


@contextmanager
def make_run_stack(tmp_path: Path, keep_instance: bool = False) -> Iterator[MakeRunStack]:
    """`make run` with a fresh or kept instance folder: yields once it serves; stopped (Ctrl-C) on exit."""
    instance = instance_folder(tmp_path)
    port = free_port()
    env = make_run_env(instance)
    runs = len(list(tmp_path.glob("make-run-*.log")))
    log_path = tmp_path / f"make-run-{runs + 1}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(makefile_run_command("127.0.0.1", port), cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    stack = MakeRunStack(url, {}, log_path, instance, process)
    try:
        _wait_until_serving(stack)
        stack.passwords.update(json.loads((instance / "demo-passwords.json").read_text()))
        yield stack
    finally:
        _stop(stack)
        if not keep_instance:
            shutil.rmtree(instance.parent, ignore_errors=True)


def _wait_until_serving(stack: MakeRunStack) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if stack.process.poll() is not None:
            raise AssertionError(f"`make run` exited ({stack.process.returncode}) before serving:\n{stack.log()}")
        try:
            with urllib.request.urlopen(f"{stack.url}/sign-in", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"`make run` did not serve within {START_TIMEOUT} s:\n{stack.log()}")
        time.sleep(0.3)


def _stop(stack: MakeRunStack) -> None:
    """Ctrl-C; if it does not end in time, kill it and stop its PostgreSQL (the test then fails on it)."""
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait()
    leftover = stack.postgres_pid()
    if leftover is not None and process_running(leftover):
        os.kill(leftover, signal.SIGINT)  # PostgreSQL's fast shutdown
        for _ in range(100):
            if not process_running(leftover):
                break
            time.sleep(0.1)


def process_running(pid: int) -> bool:
    """Whether `pid` is a live process (an exited one that no one has reaped yet, a zombie, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
