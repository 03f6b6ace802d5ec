"""A throwaway PostgreSQL 15 cluster that can be crashed: for tests/test_sync_durability.py and
benchmarks/faults.py, which stop it at once (`crash`: SIGQUIT to the postmaster, what `pg_ctl stop -m
immediate` sends; no shutdown checkpoint, WAL still in shared memory is gone) and start it again (crash
recovery).

Like .ci/pg_up.sh: initdb and pg_ctl run as the postgres user (runuser), on a free 127.0.0.1 port,
with a database `app`. The settings given override the server defaults (e.g. synchronous_commit=off).
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _pgbin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (.ci/pg_up.sh installs postgresql-15)")
    return Path(found[-1])


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """initdb'd on creation; `start`, `crash` (immediate stop), `stop` (fast), `remove`."""

    def __init__(self, settings: dict[str, str]) -> None:
        self.bin = _pgbin()
        self.dir = Path(tempfile.mkdtemp(prefix="pgcrash."))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.settings = {"listen_addresses": "127.0.0.1", **settings}
        self.port = 0
        self._as_postgres("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                          "--locale=C.UTF-8", "--no-sync")

    def _as_postgres(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        # DEVNULL everywhere: the server daemon must hold none of our pipes.
        done = subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / tool), *args], cwd=self.dir,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr[-2000:]}\n{self.log_tail()}")
        return done

    def log_tail(self, chars: int = 2000) -> str:
        log = self.dir / "pg.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def start(self) -> None:
        """Start (after a crash: crash recovery first); the port is kept across restarts once bound."""
        for attempt in (1, 2):
            port = self.port or _free_port()
            options = f"-p {port} -k {self.dir} " + " ".join(f"-c {k}={v}" for k, v in self.settings.items())
            done = self._as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-w", "-t", "120",
                                     "-o", options, "start", check=False)
            if done.returncode == 0:
                self.port = port
                return
            if self.port or attempt == 2:  # a port we held before, or the second free-port pick: give up
                raise RuntimeError(f"postgres did not start on port {port}: {done.stderr}\n{self.log_tail()}")

    def crash(self) -> float:
        """What `pg_ctl stop -m immediate` does, without its start-up delay: SIGQUIT to the postmaster (every
        server process quits at once), then wait until it is gone. Returns the seconds it took."""
        started = time.monotonic()
        pid = self.postmaster_pid()
        os.kill(pid, signal.SIGQUIT)
        while Path(f"/proc/{pid}").exists() and not _zombie(pid):
            if time.monotonic() - started > 60:
                raise RuntimeError(f"postmaster {pid} did not quit\n{self.log_tail()}")
            time.sleep(0.01)
        return time.monotonic() - started

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", check=False)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def libpq_url(self, database: str = "app") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str = "app") -> str:
        """The SQLAlchemy URL (psycopg 3) of `database`."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, database: str = "app") -> None:
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        database], check=True, stdin=subprocess.DEVNULL, capture_output=True)

    def restore_from(self, source_libpq_url: str, database: str = "app") -> None:
        """Copy a database from another server into `database` (pg_dump | pg_restore, under a second)."""
        self.create_database(database)
        dump = subprocess.run([str(self.bin / "pg_dump"), "-Fc", "-d", source_libpq_url], check=True,
                              stdin=subprocess.DEVNULL, capture_output=True)
        subprocess.run([str(self.bin / "pg_restore"), "--no-owner", "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "-d", database], input=dump.stdout, check=True, capture_output=True)
