from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.evaluation_record_tags_type_0 import EvaluationRecordTagsType0


T = TypeVar("T", bound="EvaluationRecord")


@_attrs_define
class EvaluationRecord:
    """One stored evaluation. The service documents this row only loosely: every field may be
    missing, and fields beyond these are kept.

        Attributes:
            id (str | Unset): The evaluation's id.
            trace_id (str | Unset): The trace it is stored on.
            created_at (datetime.datetime | Unset): When it was stored.
            endpoint_type (str | Unset): `reward` or `trace` (a plain string so new endpoint types parse).
            criteria (None | str | Unset): The criterion used.
            evaluator_name (None | str | Unset): The saved evaluator used.
            score (float | None | Unset): The score.
            explanation (None | str | Unset): The explanation.
            tags (EvaluationRecordTagsType0 | None | Unset): The tags it was stored with.
    """

    id: str | Unset = UNSET
    trace_id: str | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    endpoint_type: str | Unset = UNSET
    criteria: None | str | Unset = UNSET
    evaluator_name: None | str | Unset = UNSET
    score: float | None | Unset = UNSET
    explanation: None | str | Unset = UNSET
    tags: EvaluationRecordTagsType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.evaluation_record_tags_type_0 import EvaluationRecordTagsType0

        id = self.id

        trace_id = self.trace_id

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        endpoint_type = self.endpoint_type

        criteria: None | str | Unset
        if isinstance(self.criteria, Unset):
            criteria = UNSET
        else:
            criteria = self.criteria

        evaluator_name: None | str | Unset
        if isinstance(self.evaluator_name, Unset):
            evaluator_name = UNSET
        else:
            evaluator_name = self.evaluator_name

        score: float | None | Unset
        if isinstance(self.score, Unset):
            score = UNSET
        else:
            score = self.score

        explanation: None | str | Unset
        if isinstance(self.explanation, Unset):
            explanation = UNSET
        else:
            explanation = self.explanation

        tags: dict[str, Any] | None | Unset
        if isinstance(self.tags, Unset):
            tags = UNSET
        elif isinstance(self.tags, EvaluationRecordTagsType0):
            tags = self.tags.to_dict()
        else:
            tags = self.tags

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if trace_id is not UNSET:
            field_dict["trace_id"] = trace_id
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if endpoint_type is not UNSET:
            field_dict["endpoint_type"] = endpoint_type
        if criteria is not UNSET:
            field_dict["criteria"] = criteria
        if evaluator_name is not UNSET:
            field_dict["evaluator_name"] = evaluator_name
        if score is not UNSET:
            field_dict["score"] = score
        if explanation is not UNSET:
            field_dict["explanation"] = explanation
        if tags is not UNSET:
            field_dict["tags"] = tags

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.evaluation_record_tags_type_0 import EvaluationRecordTagsType0

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        trace_id = d.pop("trace_id", UNSET)

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = datetime.datetime.fromisoformat(_created_at)

        endpoint_type = d.pop("endpoint_type", UNSET)

        def _parse_criteria(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        criteria = _parse_criteria(d.pop("criteria", UNSET))

        def _parse_evaluator_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        evaluator_name = _parse_evaluator_name(d.pop("evaluator_name", UNSET))

        def _parse_score(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        score = _parse_score(d.pop("score", UNSET))

        def _parse_explanation(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        explanation = _parse_explanation(d.pop("explanation", UNSET))

        def _parse_tags(data: object) -> EvaluationRecordTagsType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                tags_type_0 = EvaluationRecordTagsType0.from_dict(data)

                return tags_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EvaluationRecordTagsType0 | None | Unset, data)

        tags = _parse_tags(d.pop("tags", UNSET))

        evaluation_record = cls(
            id=id,
            trace_id=trace_id,
            created_at=created_at,
            endpoint_type=endpoint_type,
            criteria=criteria,
            evaluator_name=evaluator_name,
            score=score,
            explanation=explanation,
            tags=tags,
        )

        evaluation_record.additional_properties = d
        return evaluation_record

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
