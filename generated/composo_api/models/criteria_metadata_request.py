from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.endpoint_type import EndpointType
from ..types import UNSET, Unset

T = TypeVar("T", bound="CriteriaMetadataRequest")


@_attrs_define
class CriteriaMetadataRequest:
    """Which endpoint's criteria to list; all of them when left out.

    Attributes:
        endpoint_type (EndpointType | Unset): Which evaluation endpoint produced a stored evaluation.
    """

    endpoint_type: EndpointType | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        endpoint_type: str | Unset = UNSET
        if not isinstance(self.endpoint_type, Unset):
            endpoint_type = self.endpoint_type.value

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if endpoint_type is not UNSET:
            field_dict["endpoint_type"] = endpoint_type

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        _endpoint_type = d.pop("endpoint_type", UNSET)
        endpoint_type: EndpointType | Unset
        if isinstance(_endpoint_type, Unset):
            endpoint_type = UNSET
        else:
            endpoint_type = EndpointType(_endpoint_type)

        criteria_metadata_request = cls(
            endpoint_type=endpoint_type,
        )

        return criteria_metadata_request
