"""Report the changes between two versions of openapi.yaml that break existing clients.

Usage:
    scripts/spec-diff OLD NEW [--allow-major-bump]

Prints one `BREAKING:` line per breaking change and one `info:` line per compatible one, and
exits 1 when there is any breaking change, 0 when there is none and 2 when the comparison could
not run. With --allow-major-bump, breaking changes are still listed but exit 0 when NEW's
`info.version` raises the major version (the minor one below 1.0) over OLD's: a break that is
announced, not an accident.

The comparison is `redocly diff` from the pinned Redocly CLI (package.json; `npm ci`), with the
`diff-recommended` rules that redocly.yaml turns on. It follows `$ref`s and knows which side of
the wire a schema is on, so the same edit is judged differently in a request and a response:

- breaking anywhere: a removed path, operation, response or media type; a parameter that is
  removed or becomes required; a request body that becomes required; a changed security scheme.
- breaking in requests (what clients send must still be accepted): a removed field, a new
  required field or an optional one made required, a narrower type (`[string, "null"]` to
  `string`, `number` to `integer`), removed enum values, tighter `maxLength`/`maximum`/`maxItems`
  or `minLength`/`minimum`/`minItems`, a changed `pattern`, `additionalProperties` turned off, a
  removed `anyOf`/`oneOf` branch.
- breaking in responses (what clients parse must still parse): a removed field, a field no longer
  required, a wider type (`string` to `[string, "null"]`, `integer` to `number`), and new enum
  values, because a client generated from a closed enum rejects a value it does not know. This
  is why open-ended values in this spec are `anyOf: [<enum>, {type: string}]` or plain strings.
- compatible (`info:`): new operations, new optional request fields, new response fields, new
  request enum values, removed response enum values, looser request constraints.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"
CONFIG = ROOT / "redocly.yaml"

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
COMBINATORS = {"anyOf", "oneOf", "allOf", "prefixItems"}
# Keywords that only document: a change to them is neither breaking nor worth a line.
PROSE = {"description", "summary", "title", "example", "examples", "externalDocs"}


class SpecDiffError(Exception):
    """The comparison could not run (a missing file, a missing tool, no breaking-change rules)."""


@dataclass(frozen=True)
class Change:
    """One difference between the two specs, as one report line."""

    breaking: bool
    where: str
    what: str

    def line(self) -> str:
        return f"{'BREAKING' if self.breaking else 'info'}: {self.where}: {self.what}"


@dataclass(frozen=True)
class Comparison:
    """Every change found, and the `info.version` of each side."""

    changes: list[Change]
    old_version: str
    new_version: str

    @property
    def breaking(self) -> list[Change]:
        return [change for change in self.changes if change.breaking]


def compare(old: Path, new: Path) -> Comparison:
    """Compare two OpenAPI documents with `redocly diff`.

    Raises:
        SpecDiffError: a file or the Node tools are missing, or Redocly produced no report.
    """
    for path in (old, new):
        if not path.is_file():
            raise SpecDiffError(f"{path} does not exist")
    if not REDOCLY.exists():
        raise SpecDiffError(f"{REDOCLY.relative_to(ROOT)} is missing: run `npm ci`")
    with tempfile.TemporaryDirectory(prefix="composo-spec-diff-") as tmp:
        output = Path(tmp) / "diff.json"
        command = [
            str(REDOCLY),
            "diff",
            str(old.resolve()),
            str(new.resolve()),
            "--config",
            str(CONFIG),
            "--lint-config",
            "off",
            "--format",
            "json",
            "--fail-on",
            "none",
            "--output",
            str(output),
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        log = done.stdout + done.stderr
        if "No diff rules are on" in log:
            raise SpecDiffError(f"{CONFIG.name} does not extend `diff-recommended`")
        if done.returncode != 0 or not output.exists():
            raise SpecDiffError(f"redocly diff failed:\n{log.strip()}")
        report = json.loads(output.read_text(encoding="utf-8"))
    versions = report.get("infoVersions", {})
    changes = [
        change
        for raw in report.get("changes", [])
        if raw["impact"] == "major" or raw.get("property") not in PROSE
        for change in _changes(raw)
    ]
    return Comparison(changes, str(versions.get("base", "")), str(versions.get("revision", "")))


def _changes(raw: dict[str, Any]) -> list[Change]:
    where = location(raw["path"])
    if raw["impact"] == "major":
        verdicts = [v for v in raw.get("verdicts", []) if v.get("impact") == "major"]
        if verdicts:
            return [Change(True, where, f"{v['message']} [{v['ruleId']}]") for v in verdicts]
        return [Change(True, where, _summary(raw))]
    return [Change(False, where, f"{_summary(raw)} ({raw['impact']})")]


def _summary(raw: dict[str, Any]) -> str:
    keyword = raw.get("property")
    if raw["kind"] == "modified" and keyword:
        return f"`{keyword}` changed"
    return str(raw["kind"])


def location(pointer: str) -> str:
    """Name the place a JSON pointer into the spec points at, the way a client author reads it.

    `#/paths/~1api~1v1~1evals~1reward/post/requestBody/content/application~1json/schema/
    properties/messages/items` is `POST /api/v1/evals/reward request `messages[]``.
    """
    tokens = [
        token.replace("~1", "/").replace("~0", "~")
        for token in pointer.removeprefix("#").strip("/").split("/")
        if token
    ]
    if len(tokens) < 2 or tokens[0] != "paths":
        return "spec " + ("/".join(tokens) or "root")
    where, rest = tokens[1], tokens[2:]
    if rest and rest[0] in METHODS:
        where, rest = f"{rest[0].upper()} {where}", rest[1:]
    if rest[:1] == ["requestBody"]:
        side, rest = "request", rest[1:]
    elif rest[:1] == ["responses"] and len(rest) > 1:
        side, rest = f"response {rest[1]}", rest[2:]
    elif rest[:1] == ["parameters"]:
        side, rest = "parameters", rest[1:]
        if rest and rest[0].isdigit():
            side, rest = f"parameters[{rest[0]}]", rest[1:]
    else:
        return " ".join([where, *rest])
    if rest[:1] == ["content"] and len(rest) > 1:
        media_type, rest = rest[1], rest[2:]
        if media_type != "application/json" or not rest:
            side = f"{side} {media_type}"
    if rest[:1] == ["schema"]:
        rest = rest[1:]
    field = _field(rest)
    return f"{where} {side}" + (f" `{field}`" if field else "")


def _field(tokens: list[str]) -> str:
    parts: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token == "properties" and following is not None:
            parts.append(f".{following}")
            index += 2
        elif token == "items":
            parts.append("[]")
            index += 1
        elif token == "additionalProperties":
            parts.append(".*")
            index += 1
        elif token in COMBINATORS and following is not None:
            parts.append(f".{token}[{following}]")
            index += 2
        else:
            parts.append(f".{token}")
            index += 1
    return "".join(parts).lstrip(".")


def is_major_bump(old: str, new: str) -> bool:
    """Whether `new` raises the version that semver reserves for breaking changes."""
    try:
        old_parts = [int(p) for p in old.split("-")[0].split(".")[:2]]
        new_parts = [int(p) for p in new.split("-")[0].split(".")[:2]]
    except ValueError:
        return False
    if len(old_parts) < 2 or len(new_parts) < 2:
        return False
    if old_parts[0] == 0 and new_parts[0] == 0:
        return new_parts[1] > old_parts[1]
    return new_parts[0] > old_parts[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spec-diff", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("old", type=Path, help="the earlier openapi.yaml")
    parser.add_argument("new", type=Path, help="the later openapi.yaml")
    parser.add_argument(
        "--allow-major-bump",
        action="store_true",
        help="exit 0 despite breaking changes when NEW raises info.version's major version",
    )
    args = parser.parse_args(argv)
    try:
        result = compare(args.old, args.new)
    except SpecDiffError as error:
        print(f"spec-diff: {error}", file=sys.stderr)
        return 2
    for change in sorted(result.changes, key=lambda c: (not c.breaking, c.where, c.what)):
        print(change.line())
    versions = f"{result.old_version} -> {result.new_version}"
    if not result.breaking:
        print(f"spec-diff: no breaking changes ({versions}, {len(result.changes)} compatible)")
        return 0
    if args.allow_major_bump and is_major_bump(result.old_version, result.new_version):
        print(f"spec-diff: {len(result.breaking)} breaking, announced by {versions}")
        return 0
    print(
        f"spec-diff: {len(result.breaking)} breaking change(s) ({versions}); keep the old "
        "shape, or bump info.version's major version if the break is intended"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
