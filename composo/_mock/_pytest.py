"""pytest fixtures for the local Composo server.

Installing composo registers this module as a pytest plugin (the `pytest11` entry point), so
the fixture needs no conftest.py; the server only starts in a test that asks for it, and
needs the `mock` extra. `composo_mock` yields a running MockServer, reset (no stored data, zeroed
counters, the default settings) before and after each test; the server itself is shared by
the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from composo._mock._server import MockServer


@pytest.fixture(scope="session")
def composo_mock_session() -> Iterator[MockServer]:
    """One MockServer (default settings) for the whole test session."""
    from composo._mock._server import MockServer

    with MockServer() as server:
        yield server


@pytest.fixture
def composo_mock(composo_mock_session: MockServer) -> Iterator[MockServer]:
    """The session's MockServer, reset for this test; `configure()` it freely."""
    composo_mock_session.reset()
    yield composo_mock_session
    composo_mock_session.reset()
