"""The built wheel works on its own: client, generated client, mock server and bundled spec.

The wheel is built with pip, installed into a bare directory (`pip install --target`), and used
from processes whose import path holds that directory and not the checkout, so a file that
`pyproject.toml` forgets to ship fails here rather than on a user's machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent

# Run with the installed wheel: reports where everything was imported from and one score.
CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import composo, composo_api
    from composo._mock import spec_path

    messages = [
        {"role": "user", "content": "Can I return the jacket I bought three weeks ago?"},
        {"role": "assistant", "content": "Yes, returns are accepted within 30 days."},
    ]
    with composo.Composo(api_key="k", base_url=sys.argv[1]) as client:
        result = client.evaluate(messages, "Reward responses that state the refund window.")
    print(json.dumps({
        "composo": composo.__file__,
        "composo_api": composo_api.__file__,
        "spec": str(spec_path()),
        "score": result.score,
        "explanation": result.explanation,
    }))
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the wheel's files, as `pip install --target` lays them out."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist, site = tmp / "dist", tmp / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", str(ROOT), "--no-deps", "-w", str(dist)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [wheel] = dist.glob("composo-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return site


def _environment(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSO_")}
    # The installed files come first; the dependencies still come from this environment's
    # site-packages (whose editable install of the checkout comes after PYTHONPATH).
    env["PYTHONPATH"] = str(site)
    return env


@contextmanager
def _mock_process(site: Path) -> Iterator[str]:
    """`python -m composo._mock --port 0` from the installed wheel; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "composo._mock", "--port", "0"],
        cwd=site.parent,
        env=_environment(site),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.stderr else ""
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_installed_wheel_serves_the_mock_and_scores_with_its_own_files(installed: Path) -> None:
    with _mock_process(installed) as url:
        finished = subprocess.run(
            [sys.executable, "-c", CLIENT_SCRIPT, url],
            cwd=installed.parent,  # not the checkout, so `import composo` cannot find it
            env=_environment(installed),
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    for module in ("composo", "composo_api"):
        assert Path(report[module]).is_relative_to(installed), report[module]
    spec = Path(report["spec"])
    assert spec == installed / "composo" / "openapi.yaml"
    assert spec.read_bytes() == (ROOT / "openapi.yaml").read_bytes()
    assert 0.0 <= report["score"] <= 1.0
    assert "synthetic" in report["explanation"].lower()
