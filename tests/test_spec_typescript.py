"""scripts/check-typescript: openapi.yaml compiles for a TypeScript team that runs
openapi-typescript as it comes, and a `default` in a request schema would be caught."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check-typescript"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (ROOT / "node_modules" / ".bin" / "openapi-typescript").exists()
        or shutil.which("node") is None,
        reason="the pinned Node tools are not installed: run `npm ci`",
    ),
]


def _check_typescript(spec: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), str(spec), str(out)], capture_output=True, text=True, timeout=180
    )


def test_spec_type_checks_with_openapi_typescript_defaults(tmp_path: Path) -> None:
    done = _check_typescript(ROOT / "openapi.yaml", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    types = (tmp_path / "composo.d.ts").read_text(encoding="utf-8")
    assert "evaluate_latest?: boolean;" in types
    assert "evaluate_latest?: false;" in types


@pytest.mark.parametrize(
    ("schema", "field", "default"),
    [("RewardRequest", "evaluate_latest", True), ("EvaluationFilterRequest", "page_size", 50)],
)
def test_a_default_in_a_request_schema_fails_the_check(
    tmp_path: Path, schema: str, field: str, default: object
) -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    spec["components"]["schemas"][schema]["properties"][field]["default"] = default
    edited = tmp_path / "openapi.yaml"
    edited.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    done = _check_typescript(edited, tmp_path / "types")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    # The minimal request in typescript/check.ts no longer compiles, and the error says why.
    assert "typescript/check.ts" in output
    assert f"'{field}'" in output
