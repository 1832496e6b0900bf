"""The regenerate workflow end to end, on a copy of the spec: the repository is not touched.

CONTRIBUTING.md's loop is: edit openapi.yaml, bump info.version, scripts/regenerate. This test
does exactly that in a temporary folder (a new optional response field and a new optional
request field), generates with the same function, generator and configuration as
scripts/regenerate, and shows the new client parses the one and sends the other.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from composo_api.models import RewardRequest, ScoreResponse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FRESH = "composo_api_regenerated"  # the import name of the package generated here


def _load_script(name: str, path: Path) -> ModuleType:
    loader = SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _fingerprint(*roots: Path) -> str:
    digest = hashlib.sha256()
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*.py"))
        for path in files:
            digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _edited_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    major, minor, _ = spec["info"]["version"].split(".")
    spec["info"]["version"] = f"{major}.{int(minor) + 1}.0"
    schemas = spec["components"]["schemas"]
    schemas["ScoreResponse"]["properties"]["confidence"] = {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "description": "How sure the evaluator is of the score.",
    }
    schemas["RewardRequest"]["properties"]["locale"] = {
        "type": "string",
        "description": "The language to write the explanation in, as a BCP 47 tag.",
    }
    return spec


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client generated from the edited copy of the spec, imported as `FRESH`."""
    before = _fingerprint(ROOT / "openapi.yaml", ROOT / "generated")
    regenerate = _load_script("composo_regenerate", ROOT / "scripts" / "regenerate")
    regenerate.check_pins()
    folder = tmp_path_factory.mktemp("regenerate-loop")
    spec_path = folder / "openapi.yaml"
    spec_path.write_text(yaml.safe_dump(_edited_spec(), sort_keys=False), encoding="utf-8")
    output = folder / "out"
    output.mkdir()

    regenerate.generate(output, spec=spec_path)

    package = output / regenerate.PACKAGE
    spec = importlib.util.spec_from_file_location(
        FRESH, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[FRESH] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for name in [n for n in sys.modules if n == FRESH or n.startswith(f"{FRESH}.")]:
            del sys.modules[name]
    assert _fingerprint(ROOT / "openapi.yaml", ROOT / "generated") == before


def test_new_response_field_is_parsed_as_an_attribute(regenerated: ModuleType) -> None:
    models = importlib.import_module(f"{FRESH}.models")
    body = {"score": 0.86, "explanation": "States the window.", "confidence": 0.9}

    parsed = models.ScoreResponse.from_dict(body)

    assert parsed.confidence == 0.9
    assert "confidence" not in parsed.additional_properties
    assert parsed.to_dict() == body


def test_new_request_field_is_sent(regenerated: ModuleType) -> None:
    models = importlib.import_module(f"{FRESH}.models")
    messages = [
        models.ChatMessage.from_dict({"role": "user", "content": "Can I return it?"}),
        models.ChatMessage.from_dict({"role": "assistant", "content": "Within 30 days."}),
    ]

    request = models.RewardRequest(
        messages=messages, evaluation_criteria="Reward x", locale="en-GB"
    )
    sent = request.to_dict()

    assert sent["locale"] == "en-GB"
    assert sent["evaluation_criteria"] == "Reward x"
    assert "locale" not in models.RewardRequest(messages=messages).to_dict()


def test_committed_client_is_unchanged(regenerated: ModuleType) -> None:
    # The loop ran on a copy: the installed client still predates both fields, so the new
    # response field only lands in its catch-all and the request field is not a parameter.
    parsed = ScoreResponse.from_dict({"score": 0.86, "explanation": "ok", "confidence": 0.9})
    assert not hasattr(parsed, "confidence")
    assert parsed.additional_properties == {"confidence": 0.9}
    with pytest.raises(TypeError, match="locale"):
        RewardRequest(messages=[], locale="en-GB")  # type: ignore[call-arg]
