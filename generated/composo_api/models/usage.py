from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.usage_models import UsageModels


T = TypeVar("T", bound="Usage")


@_attrs_define
class Usage:
    """Usage in the current quota period.

    Attributes:
        total_current_request_count (int): Requests made in the current period.
        total_current_token_count (int): Tokens used in the current period.
        monthly_token_quota (int | None | Unset): The plan's monthly token quota; `null` when unlimited.
        models (UsageModels | Unset): Usage per model core; the shape is not documented.
    """

    total_current_request_count: int
    total_current_token_count: int
    monthly_token_quota: int | None | Unset = UNSET
    models: UsageModels | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total_current_request_count = self.total_current_request_count

        total_current_token_count = self.total_current_token_count

        monthly_token_quota: int | None | Unset
        if isinstance(self.monthly_token_quota, Unset):
            monthly_token_quota = UNSET
        else:
            monthly_token_quota = self.monthly_token_quota

        models: dict[str, Any] | Unset = UNSET
        if not isinstance(self.models, Unset):
            models = self.models.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "total_current_request_count": total_current_request_count,
                "total_current_token_count": total_current_token_count,
            }
        )
        if monthly_token_quota is not UNSET:
            field_dict["monthly_token_quota"] = monthly_token_quota
        if models is not UNSET:
            field_dict["models"] = models

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.usage_models import UsageModels

        d = dict(src_dict)
        total_current_request_count = d.pop("total_current_request_count")

        total_current_token_count = d.pop("total_current_token_count")

        def _parse_monthly_token_quota(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        monthly_token_quota = _parse_monthly_token_quota(
            d.pop("monthly_token_quota", UNSET)
        )

        _models = d.pop("models", UNSET)
        models: UsageModels | Unset
        if isinstance(_models, Unset):
            models = UNSET
        else:
            models = UsageModels.from_dict(_models)

        usage = cls(
            total_current_request_count=total_current_request_count,
            total_current_token_count=total_current_token_count,
            monthly_token_quota=monthly_token_quota,
            models=models,
        )

        usage.additional_properties = d
        return usage

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
