from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="CriteriaFilter")


@_attrs_define
class CriteriaFilter:
    """Matches evaluations whose criterion is one of `values`.

    Attributes:
        values (list[str]): The accepted criteria.
    """

    values: list[str]

    def to_dict(self) -> dict[str, Any]:
        values = self.values

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "values": values,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        values = cast(list[str], d.pop("values"))

        criteria_filter = cls(
            values=values,
        )

        return criteria_filter
