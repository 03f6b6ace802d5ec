"""Rendered search results, kept per worker process and reused while the directory is unchanged.

The search page costs a query and a template of twenty providers; the same few searches come from
every school. An entry is valid for one directory stamp (directory_queries.directory_stamp, kept by
database triggers), read on every request: a change committed through any worker, the CLI or SQL
moves the stamp, and the next search anywhere renders afresh. Only HTML that is the same for every
user of an audience goes in (no names, no CSRF tokens, no watch buttons): the key holds the
audience, the normalised filters and what else the HTML depends on.
"""
from __future__ import annotations

import threading
from typing import Callable, Hashable, TypeVar

from flask import Flask, current_app
MAX_ENTRIES = 256  # a page is about 35-70 KB: under 20 MB a worker
T = TypeVar("T")


class RenderedCache:
    """Rendered pages (HTML or page frames) by (stamp, key), bounded; entries of older stamps are dropped when a newer one is seen."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[int, Hashable], object] = {}
        self._newest = -1
        self._lock = threading.Lock()  # the dev server and tests serve from threads

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_render(self, stamp: int | None, key: Hashable, render: Callable[[], T]) -> T:
        """What `render` made for `key` at `stamp`, rendering (and keeping) it when missing; None never reuses."""
        if stamp is None:
            return render()
        found = self._entries.get((stamp, key))
        if found is not None:
            return found
        html = render()
        with self._lock:
            if stamp > self._newest:  # the directory changed: nothing rendered before can be hit again
                self._newest = stamp
                self._entries = {k: v for k, v in self._entries.items() if k[0] >= stamp}
            elif stamp < self._newest - 1:
                # Gone back (a database restored from a backup): values seen before may come to stand for other
                # data, so start again. One behind is a request that read it just before a commit; a slow
                # thread further behind only costs a fresh start.
                self._newest, self._entries = stamp, {}
            if len(self._entries) >= self.max_entries:
                self._entries = {}
            self._entries[(stamp, key)] = html
        return html


def init_app(app: Flask) -> None:
    app.extensions["directory_cache"] = RenderedCache()


def cache() -> RenderedCache:
    """The current app's cache (two apps in one process, as in tests, never share one)."""
    return current_app.extensions["directory_cache"]
