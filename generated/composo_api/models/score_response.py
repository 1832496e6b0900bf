from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.source import Source


T = TypeVar("T", bound="ScoreResponse")


@_attrs_define
class ScoreResponse:
    """The result of one evaluation.

    Attributes:
        score (float | None): The score in [0, 1]; 0 or 1 for binary criteria; `null` when the criterion does not
            apply to the conversation.
        explanation (str): Why the evaluator gave this score.
        cleaned_explanation (None | str | Unset): The explanation worded for an end user; only with
            `explanation_cleaning`.
        sources (list[Source] | None | Unset): The parts of the input the explanation relies on, when known.
    """

    score: float | None
    explanation: str
    cleaned_explanation: None | str | Unset = UNSET
    sources: list[Source] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        score: float | None
        score = self.score

        explanation = self.explanation

        cleaned_explanation: None | str | Unset
        if isinstance(self.cleaned_explanation, Unset):
            cleaned_explanation = UNSET
        else:
            cleaned_explanation = self.cleaned_explanation

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

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "score": score,
                "explanation": explanation,
            }
        )
        if cleaned_explanation is not UNSET:
            field_dict["cleaned_explanation"] = cleaned_explanation
        if sources is not UNSET:
            field_dict["sources"] = sources

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.source import Source

        d = dict(src_dict)

        def _parse_score(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        score = _parse_score(d.pop("score"))

        explanation = d.pop("explanation")

        def _parse_cleaned_explanation(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        cleaned_explanation = _parse_cleaned_explanation(
            d.pop("cleaned_explanation", UNSET)
        )

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

        score_response = cls(
            score=score,
            explanation=explanation,
            cleaned_explanation=cleaned_explanation,
            sources=sources,
        )

        score_response.additional_properties = d
        return score_response

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
