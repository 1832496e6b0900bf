from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.usage import Usage


T = TypeVar("T", bound="UsageResponse")


@_attrs_define
class UsageResponse:
    """Usage against the monthly quota, and when the quota resets.

    Attributes:
        usage (Usage): Usage in the current quota period.
        quota_reset_date (str): When the quota period ends (an ISO 8601 date or date-time).
    """

    usage: Usage
    quota_reset_date: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        usage = self.usage.to_dict()

        quota_reset_date = self.quota_reset_date

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "usage": usage,
                "quota_reset_date": quota_reset_date,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.usage import Usage

        d = dict(src_dict)
        usage = Usage.from_dict(d.pop("usage"))

        quota_reset_date = d.pop("quota_reset_date")

        usage_response = cls(
            usage=usage,
            quota_reset_date=quota_reset_date,
        )

        usage_response.additional_properties = d
        return usage_response

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
