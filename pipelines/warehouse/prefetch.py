"""Parse the next window while PostgreSQL merges the current one.

A load is two kinds of work on two cores: Python parsing bodies, and the server ingesting the
COPY and running the merge. Done in turn, each waits for the other. `parse_ahead` runs the
parsing of upcoming windows in a background thread (psycopg releases the GIL while it waits on
the server), handing parsed items over in batches through a bounded queue, so memory stays
bounded by `max_batches * batch_size` items whatever the window size.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

W = TypeVar("W")
_END_OF_WINDOW = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def parse_ahead(windows: list[W], source: Callable[[W], tuple[Any, Iterable]], *,
                batch_size: int = 2000, max_batches: int = 16) -> Iterator[tuple[W, Any, Iterator]]:
    """Yield (window, token, items) for each window in order, items parsed in a background thread.

    `source(window)` runs in the background thread and returns a token (e.g. which raw pages it
    read) and the iterable of parsed items. Whatever the caller does not take of a window's items
    is skipped when it asks for the next window. An exception while parsing is raised from `items`
    or, if the caller did not read them, when it asks for the next window.
    """
    handoff: queue.Queue = queue.Queue(maxsize=max_batches)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for window in windows:
                token, items = source(window)
                if not put(token):
                    return
                batch = []
                for item in items:
                    batch.append(item)
                    if len(batch) >= batch_size:
                        if not put(batch):
                            return
                        batch = []
                if (batch and not put(batch)) or not put(_END_OF_WINDOW):
                    return
        except BaseException as exc:  # noqa: BLE001 -- not swallowed: raised in the consumer, traceback and all
            put(_Failure(exc))

    def window_items() -> Iterator:
        while True:
            entry = handoff.get()
            if entry is _END_OF_WINDOW:
                return
            if type(entry) is _Failure:
                raise entry.exc
            yield from entry

    producer = threading.Thread(target=produce, name="parse-ahead", daemon=True)
    producer.start()
    try:
        current = iter(())
        for window in windows:
            for _ in current:  # whatever the caller left of the previous window
                pass
            token = handoff.get()
            if type(token) is _Failure:
                raise token.exc
            current = window_items()
            yield window, token, current
    finally:
        stop.set()
        producer.join()
