"""The mock conforms to openapi.yaml as Schemathesis sees it: every check, every phase.

Schemathesis (the CLI, in a subprocess) generates valid and invalid requests for every
operation from the spec, including stateful sequences along the links it infers (a trace
evaluation's `request_id` into get-trace, comment and rating), and checks each answer: status
codes and bodies as specified, valid data accepted, invalid data and wrong keys refused, 405s
carrying `Allow`. Its settings, and the one documented exception, are in schemathesis.toml at
the repository root.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from composo._mock import MockServer
from tests._spec_util import operations

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test"

# Cases per operation and phase: enough to reach every operation's error paths, small enough
# for about 15 s.
MAX_EXAMPLES = 20


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    # Only this key is valid, so the `ignored_auth` check can see a wrong key refused (the
    # mock's default accepts any non-empty key).
    with MockServer(api_keys=[API_KEY]) as running:
        yield running


def test_mock_passes_every_schemathesis_check(server: MockServer, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "--no-color",
        "run",
        str(ROOT / "openapi.yaml"),
        "--url",
        server.base_url,
        "--header",
        f"API-Key: {API_KEY}",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        # Derandomized (no seed needed), and without a database of earlier runs: the same
        # cases every run, so a failure reproduces.
        "--generation-deterministic",
        "--workers",
        "1",
    ]
    # cwd: nothing is written into the checkout.
    finished = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )

    output = finished.stdout + finished.stderr
    tail = "\n".join(output.splitlines()[-80:])
    assert finished.returncode == 0, f"schemathesis exited {finished.returncode}:\n{tail}"
    assert f"Tested: {len(operations())}" in output, tail
    # The stateful phase ran (and passed) rather than being skipped for want of links.
    assert re.search(r"✅\s+Stateful \(in ", output), tail
