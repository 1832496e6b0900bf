"""Bounded polling for conditions another thread or process makes true "soon"."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "") -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds, never on the first look.

    Reading a counter once right after an event races with whoever updates it (a server that
    has not yet noticed a closed connection, on a loaded machine); polling does not.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout:g} s: {what or condition}")
        time.sleep(0.02)
