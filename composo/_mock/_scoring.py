"""Synthetic, deterministic scores: the same criterion and conversation always score the same.

A score is read from the SHA-256 of the criterion and the canonical JSON of the conversation,
so it is stable across runs, processes and machines (unlike `hash()`), and says nothing about
the conversation's quality. Explanations say so plainly.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Final

from composo._mock._rules import has_llm_interaction, is_binary, normalise_criterion

# Graded scores are rounded like the service's (a few decimals), yet rarely collide.
_DECIMALS: Final = 3

_CLEANED = "This is a synthetic score from the local Composo mock server, not a real evaluation."


def canonical_json(value: Any) -> bytes:
    """A byte string that is the same for equal JSON values, whatever their key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def criterion_seed(criteria: str | None, evaluator_name: str | None) -> str:
    """What a score is seeded with: the normalised criterion, or the evaluator's name."""
    if criteria is not None:
        return normalise_criterion(criteria)
    return f"evaluator:{evaluator_name}"


def synthetic_score(seed: str, conversation: bytes, binary: bool) -> float:
    """A score in [0, 1] (0 or 1 when `binary`) derived from the seed and the conversation."""
    digest = hashlib.sha256(seed.encode() + b"\x00" + conversation).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    if binary:
        return 1.0 if fraction >= 0.5 else 0.0
    return round(fraction, _DECIMALS)


def _explanation(seed: str, score: float, binary: bool) -> str:
    verdict = ("passes" if score else "fails") if binary else f"scores {score}"
    subject = seed[:200] + ("..." if len(seed) > 200 else "")
    return (
        f"Synthetic result from the local Composo mock server, not a real evaluation: the input"
        f" {verdict} only because that is what a SHA-256 hash of the criterion and the"
        f" conversation gives, so the same input always gets the same result. Criterion: {subject}"
    )


def score_response(
    criteria: str | None,
    evaluator_name: str | None,
    conversation: bytes,
    cleaned: bool,
) -> dict[str, Any]:
    """A ScoreResponse body for one conversation."""
    seed = criterion_seed(criteria, evaluator_name)
    binary = criteria is not None and is_binary(criteria)
    score = synthetic_score(seed, conversation, binary)
    result: dict[str, Any] = {
        "score": score,
        "explanation": _explanation(seed, score, binary),
        "sources": None,
    }
    if cleaned:
        result["cleaned_explanation"] = _CLEANED
    return result


def reward_conversation(body: Mapping[str, Any]) -> bytes:
    """The canonical conversation a reward request is scored on."""
    return canonical_json({k: body[k] for k in ("messages", "system", "tools") if k in body})


def summary_statistics(scores: Sequence[float]) -> dict[str, float | None]:
    """Median, min, max and population standard deviation of an agent's instance scores."""
    if not scores:
        return {"median": None, "min": None, "max": None, "std": None}
    return {
        "median": round(statistics.median(scores), 6),
        "min": min(scores),
        "max": max(scores),
        "std": round(statistics.pstdev(scores), 6),
    }


def trace_results(
    trace: Mapping[str, Any], criteria: str | None, evaluator_name: str | None
) -> dict[str, Any]:
    """`results_by_agent_name` of a MultiAgentTraceResponse.

    Each agent instance holding LLM interactions is scored on those interactions; an instance
    holding only child-instance ids gets null. Binary criteria get no summary statistics.
    """
    binary = criteria is not None and is_binary(criteria)
    by_name: dict[str, dict[str, Any]] = {}
    scores: dict[str, list[float]] = {}
    for instance_id, instance in trace["agent_instance_by_id"].items():
        name = instance["name"]
        group = by_name.setdefault(name, {"agent_name": name, "results_by_agent_instance_id": {}})
        result = None
        if has_llm_interaction(instance):
            interactions = [e for e in instance["interactions"] if isinstance(e, dict)]
            result = score_response(criteria, evaluator_name, canonical_json(interactions), False)
            scores.setdefault(name, []).append(result["score"])
        group["results_by_agent_instance_id"][instance_id] = result
    for name, group in by_name.items():
        group["summary_statistics"] = None if binary else summary_statistics(scores.get(name, []))
    return by_name
