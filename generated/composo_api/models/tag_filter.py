from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="TagFilter")


@_attrs_define
class TagFilter:
    """Matches evaluations whose tag `key` has one of `values`.

    Attributes:
        key (str): The tag's key.
        values (list[str]): The accepted values.
    """

    key: str
    values: list[str]

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        values = self.values

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "key": key,
                "values": values,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        key = d.pop("key")

        values = cast(list[str], d.pop("values"))

        tag_filter = cls(
            key=key,
            values=values,
        )

        return tag_filter
