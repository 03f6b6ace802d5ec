"""`make run` smoke: prepare and serve exactly as the Makefile does, on a temp SQLite file."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_prepares_a_sqlite_demo_and_serves_the_sign_in_page(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITAPP_")}
    env["AUDITAPP_INSTANCE_DIR"] = str(tmp_path / "instance")
    # Given `make run`'s preparation step, twice (re-running must be safe)
    for _ in range(2):
        prepared = subprocess.run([VENV_BIN / "audit-tools", "dev-prepare"], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=120)
        assert prepared.returncode == 0, prepared.stderr
    assert "Demo sign-ins" in prepared.stdout and "admin@county.example.org" in prepared.stdout
    assert (tmp_path / "instance" / "auditapp.sqlite3").exists()
    secret = (tmp_path / "instance" / "secret_key").read_text().strip()
    # When the app is served the way the Makefile serves it
    port = _free_port()
    serve_env = {**env, "AUDITAPP_SECRET_KEY": secret, "AUDITAPP_SESSION_COOKIE_SECURE": "false"}
    server = subprocess.Popen([VENV_BIN / "flask", "--app", "wsgi:app", "run", "--host", "127.0.0.1", "--port",
                               str(port)], cwd=REPO, env=serve_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = _get_when_up(f"http://127.0.0.1:{port}/sign-in")
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stderr.close()
    # Then the sign-in page is served
    assert "Sign in" in body and "AP provider audits" in body


def _get_when_up(url: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
