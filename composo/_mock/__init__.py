"""A local Composo server: the embedded default, the test double and the rehearsal stage.

Needs the `mock` extra (aiohttp, jsonschema, pyyaml). Importing this package is cheap: the
server modules load on first use of a name below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from composo._mock._cli import run_cli
    from composo._mock._faults import Counters, FaultConfig
    from composo._mock._server import AsyncMockServer, MockServer, mock_server
    from composo._mock._spec import spec_path

__all__ = [
    "AsyncMockServer",
    "Counters",
    "FaultConfig",
    "MockServer",
    "mock_server",
    "run_cli",
    "spec_path",
]

_HOMES = {
    "AsyncMockServer": "composo._mock._server",
    "MockServer": "composo._mock._server",
    "mock_server": "composo._mock._server",
    "Counters": "composo._mock._faults",
    "FaultConfig": "composo._mock._faults",
    "run_cli": "composo._mock._cli",
    "spec_path": "composo._mock._spec",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
