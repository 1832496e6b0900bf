"""Settings every test shares."""

from __future__ import annotations

import hashlib

import pytest


@pytest.fixture(autouse=True)
def _own_cache_dir(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each test gets its own default result-cache directory (`COMPOSO_CACHE_DIR`), made only
    if the test uses it: no test reads or fills the user's cache, or another test's."""
    base = tmp_path_factory.getbasetemp()
    name = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    monkeypatch.setenv("COMPOSO_CACHE_DIR", str(base / "composo-cache" / name))
