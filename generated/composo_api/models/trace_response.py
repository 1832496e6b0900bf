from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attach_comment_response import AttachCommentResponse
    from ..models.trace_evaluation import TraceEvaluation
    from ..models.trace_response_tags_type_0 import TraceResponseTagsType0
    from ..models.trace_response_trace_type_0 import TraceResponseTraceType0


T = TypeVar("T", bound="TraceResponse")


@_attrs_define
class TraceResponse:
    """A stored trace with what has been attached to it.

    Attributes:
        id (UUID): The trace's id.
        created_at (datetime.datetime): When the trace was stored.
        comments (list[AttachCommentResponse]): The comments attached to it, oldest first.
        evaluations (list[TraceEvaluation]): The evaluations stored on it.
        tags (None | TraceResponseTagsType0 | Unset): The tags it was stored with.
        rating (bool | None | Unset): The rating, if one was attached.
        trace (None | TraceResponseTraceType0 | Unset): The stored input (a conversation or a multi-agent trace).
    """

    id: UUID
    created_at: datetime.datetime
    comments: list[AttachCommentResponse]
    evaluations: list[TraceEvaluation]
    tags: None | TraceResponseTagsType0 | Unset = UNSET
    rating: bool | None | Unset = UNSET
    trace: None | TraceResponseTraceType0 | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.trace_response_tags_type_0 import TraceResponseTagsType0
        from ..models.trace_response_trace_type_0 import TraceResponseTraceType0

        id = str(self.id)

        created_at = self.created_at.isoformat()

        comments = []
        for comments_item_data in self.comments:
            comments_item = comments_item_data.to_dict()
            comments.append(comments_item)

        evaluations = []
        for evaluations_item_data in self.evaluations:
            evaluations_item = evaluations_item_data.to_dict()
            evaluations.append(evaluations_item)

        tags: dict[str, Any] | None | Unset
        if isinstance(self.tags, Unset):
            tags = UNSET
        elif isinstance(self.tags, TraceResponseTagsType0):
            tags = self.tags.to_dict()
        else:
            tags = self.tags

        rating: bool | None | Unset
        if isinstance(self.rating, Unset):
            rating = UNSET
        else:
            rating = self.rating

        trace: dict[str, Any] | None | Unset
        if isinstance(self.trace, Unset):
            trace = UNSET
        elif isinstance(self.trace, TraceResponseTraceType0):
            trace = self.trace.to_dict()
        else:
            trace = self.trace

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "created_at": created_at,
                "comments": comments,
                "evaluations": evaluations,
            }
        )
        if tags is not UNSET:
            field_dict["tags"] = tags
        if rating is not UNSET:
            field_dict["rating"] = rating
        if trace is not UNSET:
            field_dict["trace"] = trace

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.attach_comment_response import AttachCommentResponse
        from ..models.trace_evaluation import TraceEvaluation
        from ..models.trace_response_tags_type_0 import TraceResponseTagsType0
        from ..models.trace_response_trace_type_0 import TraceResponseTraceType0

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        comments = []
        _comments = d.pop("comments")
        for comments_item_data in _comments:
            comments_item = AttachCommentResponse.from_dict(comments_item_data)

            comments.append(comments_item)

        evaluations = []
        _evaluations = d.pop("evaluations")
        for evaluations_item_data in _evaluations:
            evaluations_item = TraceEvaluation.from_dict(evaluations_item_data)

            evaluations.append(evaluations_item)

        def _parse_tags(data: object) -> None | TraceResponseTagsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                tags_type_0 = TraceResponseTagsType0.from_dict(data)

                return tags_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TraceResponseTagsType0 | Unset, data)

        tags = _parse_tags(d.pop("tags", UNSET))

        def _parse_rating(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        rating = _parse_rating(d.pop("rating", UNSET))

        def _parse_trace(data: object) -> None | TraceResponseTraceType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                trace_type_0 = TraceResponseTraceType0.from_dict(data)

                return trace_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TraceResponseTraceType0 | Unset, data)

        trace = _parse_trace(d.pop("trace", UNSET))

        trace_response = cls(
            id=id,
            created_at=created_at,
            comments=comments,
            evaluations=evaluations,
            tags=tags,
            rating=rating,
            trace=trace,
        )

        trace_response.additional_properties = d
        return trace_response

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
