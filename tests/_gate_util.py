"""Datasets for the gate tests: support conversations in two versions of the assistant."""

from __future__ import annotations

import random
from typing import Any

CORRECT = "Reward answers that state the refund window correctly"
POLITE = "Passes if the reply is polite"

_QUESTIONS = (
    "Can I return the jacket I bought {n} days ago?",
    "My order {n} arrived damaged; what now?",
    "Is a refund possible for gift card number {n}?",
    "How long does a refund take for order {n}?",
)
_REPLIES = (
    "Yes: returns are accepted within 30 days. Use the returns form (order {n}).",
    "Refunds are possible within 30 days of delivery; start at the returns page ({n}).",
)


def conversation(index: int, version: int) -> dict[str, Any]:
    """Item `index` of the suite, answered by assistant `version` (0 or 1)."""
    question = _QUESTIONS[index % len(_QUESTIONS)].format(n=index)
    reply = _REPLIES[version].format(n=index)
    return {
        "id": f"refund-{index}",
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": reply},
        ],
    }


def suite(size: int, version: int = 0) -> list[dict[str, Any]]:
    """The whole suite answered by one assistant version."""
    return [conversation(index, version) for index in range(size)]


def regressed(good: list[dict[str, Any]], bad: list[dict[str, Any]], seed: int) -> list[Any]:
    """`good` with a seeded half of its items swapped for their `bad` versions."""
    rng = random.Random(seed)
    swapped = set(rng.sample(range(len(good)), len(good) // 2))
    return [bad[i] if i in swapped else good[i] for i in range(len(good))]
