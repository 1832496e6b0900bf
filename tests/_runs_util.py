"""Synthetic result files of `composo evaluate`, for the `composo compare` tests."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CORRECT = "Reward answers that are correct"
CONCISE = "Reward replies that are concise"
POLITE = "Passes if the reply is polite"


def record(
    item: str | None,
    criterion: str,
    score: float | None = 0.5,
    *,
    line: int = 1,
    error: str | None = None,
    explanation: str = "synthetic",
) -> dict[str, Any]:
    """One record as `composo evaluate` writes it: a score, or an error instead."""
    written: dict[str, Any] = {"line": line, "id": item, "criterion": criterion}
    if error is not None:
        written["error"] = {"type": "APIError", "status_code": 503, "message": error}
    else:
        written["score"] = score
        written["explanation"] = explanation
    return written


def write_run(path: Path, records: Iterable[dict[str, Any] | str]) -> Path:
    """Write records (or raw lines, for malformed input) one per line."""
    with path.open("w", encoding="utf-8") as f:
        for entry in records:
            f.write((entry if isinstance(entry, str) else json.dumps(entry)) + "\n")
    return path


def synthetic_runs(
    directory: Path, seed: int, items: int = 500, drop: float = 0.05
) -> tuple[Path, Path, Path]:
    """A base run, an unchanged rerun and a run whose CORRECT mean dropped by `drop`.

    Each item has a true quality per criterion; every run adds fresh judge noise to it (sd
    0.05, three decimals, clipped to [0, 1]), so the rerun differs from the base item by
    item while meaning the same. The POLITE verdict of an item flips in 1% of evaluations.
    """
    rng = random.Random(seed)
    truth = [
        (rng.betavariate(5, 2), rng.betavariate(4, 3), rng.random() < 0.85) for _ in range(items)
    ]

    def run(path: Path, shift: float) -> Path:
        def graded(value: float) -> float:
            return round(min(1.0, max(0.0, value + rng.gauss(0.0, 0.05))), 3)

        records = []
        for index, (correct, concise, polite) in enumerate(truth):
            item, line = f"conversation-{index}", index + 1
            passes = polite if rng.random() >= 0.01 else not polite
            records += [
                record(item, CORRECT, graded(correct - shift), line=line),
                record(item, CONCISE, graded(concise), line=line),
                record(item, POLITE, float(passes), line=line),
            ]
        return write_run(path, records)

    return (
        run(directory / "base.jsonl", 0.0),
        run(directory / "rerun.jsonl", 0.0),
        run(directory / "dropped.jsonl", drop),
    )
