from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="AttachRatingRequest")


@_attrs_define
class AttachRatingRequest:
    """A thumbs-up (`true`) or thumbs-down (`false`) for a stored trace.

    Attributes:
        trace_id (UUID): The stored trace's id.
        rating (bool): `true` for thumbs-up, `false` for thumbs-down.
    """

    trace_id: UUID
    rating: bool

    def to_dict(self) -> dict[str, Any]:
        trace_id = str(self.trace_id)

        rating = self.rating

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "trace_id": trace_id,
                "rating": rating,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        trace_id = UUID(d.pop("trace_id"))

        rating = d.pop("rating")

        attach_rating_request = cls(
            trace_id=trace_id,
            rating=rating,
        )

        return attach_rating_request
