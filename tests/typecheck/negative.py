# pyright: strict
"""Mistakes a type checker must catch: each line marked `# error` must be reported by both
`mypy --strict` and pyright, and nothing else (tests/test_typing.py)."""

from __future__ import annotations

import composo
from composo import AsyncComposo, Composo

MESSAGES = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
CRITERION = "Reward friendly replies"


def mistakes(client: Composo) -> None:
    result = client.evaluate(MESSAGES, CRITERION)
    print(result.scor)  # error
    print(client.evaluate(MESSAGES, [CRITERION]).score)  # error
    print(client.evaluate(MESSAGES, CRITERION, block=False).score)  # error
    print(client.evaluate_trace({}, CRITERION).scor)  # error
    print(next(client.traces.list()).scor)  # error
    print(composo.Compsoo)  # error


async def async_mistakes(client: AsyncComposo) -> None:
    result = await client.evaluate(MESSAGES, CRITERION)
    print(result.scor)  # error
    print(list(client.traces.list()))  # error
