"""The app on a real port for the browser tests, stopped so that nothing outlives it.

Werkzeug's threaded server runs each request on a daemon thread that shutdown() does not wait for: a
request still in flight (an upload retrying a store that is down, say) would hand its database
connection back to a pool already disposed, and the connection would be garbage-collected unclosed in
some later test. Here request threads are joined before the engine is disposed."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server

from auditapp.db import db as app_db


@contextmanager
def serving(app, wsgi=None) -> Iterator[str]:
    """Serve `wsgi` (default: the Flask `app` itself) and yield its base URL; on exit stop it, wait for every
    request thread, then dispose the app's engine."""
    server = make_server("127.0.0.1", 0, wsgi or app, threaded=True)
    server.daemon_threads = False  # socketserver then tracks request threads and server_close() joins them
    server.block_on_close = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        app_db.binding(app).engine.dispose()
