"""The result types users see, taken from the generated client.

`BackgroundTask` types what `block=False` returns: the server's JSON object as sent, of which
`task_id` is the one documented key.

`EvaluationResponse` is the generated `ScoreResponse` under the official SDK's name, with the two
optional fields defaulting to `None` (as in the official SDK) instead of the generator's `UNSET`,
and `score` always a float. The wire format stays the generated model's: `from_dict`/`to_dict`
are inherited unchanged.

Both result types carry `from_cache`, which is not part of the wire format: True when the result
was read from a `ResultCache` instead of the service. It is left out of `to_dict()` and of
equality, so a cached result equals the fresh one it replays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypedDict

from attrs import define, field

from composo_api.models.multi_agent_trace_response import MultiAgentTraceResponse
from composo_api.models.score_response import ScoreResponse
from composo_api.models.source import Source
from composo_api.types import Unset


@define
class EvaluationResponse(ScoreResponse):
    """The result of one evaluation: `score` in [0, 1] (None when the criterion does not apply),
    `explanation`, and `cleaned_explanation` / `sources` when the service returned them;
    `from_cache` says whether it was read from a result cache."""

    cleaned_explanation: str | None = None
    sources: list[Source] | None = None
    from_cache: bool = field(default=False, kw_only=True, eq=False)

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        parsed = super().from_dict(src_dict)
        if isinstance(parsed.cleaned_explanation, Unset):
            parsed.cleaned_explanation = None
        if isinstance(parsed.sources, Unset):
            parsed.sources = None
        if isinstance(parsed.score, int):
            parsed.score = float(parsed.score)
        return parsed


class BackgroundTask(TypedDict):
    """What `evaluate(..., block=False)` and `evaluate_trace(..., block=False)` return: the
    server's dict, holding the `task_id` of the evaluation it queued (it may hold more keys)."""

    task_id: str


@define
class TraceEvaluationResponse(MultiAgentTraceResponse):
    """What `evaluate_trace` returns: a `MultiAgentTraceResponse` (results by agent name) whose
    `from_cache` says whether it was read from a result cache."""

    from_cache: bool = field(default=False, kw_only=True, eq=False)
