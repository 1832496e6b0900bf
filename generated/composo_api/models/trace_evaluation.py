from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.source import Source
    from ..models.trace_evaluation_sub_trace_type_0 import TraceEvaluationSubTraceType0


T = TypeVar("T", bound="TraceEvaluation")


@_attrs_define
class TraceEvaluation:
    """One evaluation stored on a trace.

    Attributes:
        id (None | str): The evaluation's id.
        evaluator_name (None | str): The saved evaluator used, if any.
        score (float | None): The score, `null` when the criterion did not apply.
        explanation (None | str): The explanation.
        sub_trace (None | TraceEvaluationSubTraceType0): The part of the trace this evaluation is about (trace
            evaluations).
        criteria (None | str | Unset): The criterion used, if any.
        sources (list[Source] | None | Unset): The parts of the input the explanation relies on.
        cached (bool | None | Unset): Whether the result came from the service's cache.
        c_cached_tokens (int | None | Unset): How many input tokens were served from the cache.
    """

    id: None | str
    evaluator_name: None | str
    score: float | None
    explanation: None | str
    sub_trace: None | TraceEvaluationSubTraceType0
    criteria: None | str | Unset = UNSET
    sources: list[Source] | None | Unset = UNSET
    cached: bool | None | Unset = UNSET
    c_cached_tokens: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.trace_evaluation_sub_trace_type_0 import (
            TraceEvaluationSubTraceType0,
        )

        id: None | str
        id = self.id

        evaluator_name: None | str
        evaluator_name = self.evaluator_name

        score: float | None
        score = self.score

        explanation: None | str
        explanation = self.explanation

        sub_trace: dict[str, Any] | None
        if isinstance(self.sub_trace, TraceEvaluationSubTraceType0):
            sub_trace = self.sub_trace.to_dict()
        else:
            sub_trace = self.sub_trace

        criteria: None | str | Unset
        if isinstance(self.criteria, Unset):
            criteria = UNSET
        else:
            criteria = self.criteria

        sources: list[dict[str, Any]] | None | Unset
        if isinstance(self.sources, Unset):
            sources = UNSET
        elif isinstance(self.sources, list):
            sources = []
            for sources_type_0_item_data in self.sources:
                sources_type_0_item = sources_type_0_item_data.to_dict()
                sources.append(sources_type_0_item)

        else:
            sources = self.sources

        cached: bool | None | Unset
        if isinstance(self.cached, Unset):
            cached = UNSET
        else:
            cached = self.cached

        c_cached_tokens: int | None | Unset
        if isinstance(self.c_cached_tokens, Unset):
            c_cached_tokens = UNSET
        else:
            c_cached_tokens = self.c_cached_tokens

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "evaluator_name": evaluator_name,
                "score": score,
                "explanation": explanation,
                "sub_trace": sub_trace,
            }
        )
        if criteria is not UNSET:
            field_dict["criteria"] = criteria
        if sources is not UNSET:
            field_dict["sources"] = sources
        if cached is not UNSET:
            field_dict["cached"] = cached
        if c_cached_tokens is not UNSET:
            field_dict["c_cached_tokens"] = c_cached_tokens

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.source import Source
        from ..models.trace_evaluation_sub_trace_type_0 import (
            TraceEvaluationSubTraceType0,
        )

        d = dict(src_dict)

        def _parse_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        id = _parse_id(d.pop("id"))

        def _parse_evaluator_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        evaluator_name = _parse_evaluator_name(d.pop("evaluator_name"))

        def _parse_score(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        score = _parse_score(d.pop("score"))

        def _parse_explanation(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        explanation = _parse_explanation(d.pop("explanation"))

        def _parse_sub_trace(data: object) -> None | TraceEvaluationSubTraceType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                sub_trace_type_0 = TraceEvaluationSubTraceType0.from_dict(data)

                return sub_trace_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TraceEvaluationSubTraceType0, data)

        sub_trace = _parse_sub_trace(d.pop("sub_trace"))

        def _parse_criteria(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        criteria = _parse_criteria(d.pop("criteria", UNSET))

        def _parse_sources(data: object) -> list[Source] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                sources_type_0 = []
                _sources_type_0 = data
                for sources_type_0_item_data in _sources_type_0:
                    sources_type_0_item = Source.from_dict(sources_type_0_item_data)

                    sources_type_0.append(sources_type_0_item)

                return sources_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Source] | None | Unset, data)

        sources = _parse_sources(d.pop("sources", UNSET))

        def _parse_cached(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        cached = _parse_cached(d.pop("cached", UNSET))

        def _parse_c_cached_tokens(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        c_cached_tokens = _parse_c_cached_tokens(d.pop("c_cached_tokens", UNSET))

        trace_evaluation = cls(
            id=id,
            evaluator_name=evaluator_name,
            score=score,
            explanation=explanation,
            sub_trace=sub_trace,
            criteria=criteria,
            sources=sources,
            cached=cached,
            c_cached_tokens=c_cached_tokens,
        )

        trace_evaluation.additional_properties = d
        return trace_evaluation

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
