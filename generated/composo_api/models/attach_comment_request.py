from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="AttachCommentRequest")


@_attrs_define
class AttachCommentRequest:
    """A comment to attach to a stored trace.

    Attributes:
        trace_id (UUID): The stored trace's id.
        comment (str): The comment's text.
    """

    trace_id: UUID
    comment: str

    def to_dict(self) -> dict[str, Any]:
        trace_id = str(self.trace_id)

        comment = self.comment

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "trace_id": trace_id,
                "comment": comment,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        trace_id = UUID(d.pop("trace_id"))

        comment = d.pop("comment")

        attach_comment_request = cls(
            trace_id=trace_id,
            comment=comment,
        )

        return attach_comment_request
