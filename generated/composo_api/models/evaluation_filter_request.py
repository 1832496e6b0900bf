from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.endpoint_type import EndpointType
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.criteria_filter import CriteriaFilter
    from ..models.tag_filter import TagFilter


T = TypeVar("T", bound="EvaluationFilterRequest")


@_attrs_define
class EvaluationFilterRequest:
    """Which stored evaluations to return, and which page.

    Attributes:
        filters (list[TagFilter] | Unset): Tag filters; an evaluation must match every one.
        criteria_filter (CriteriaFilter | Unset): Matches evaluations whose criterion is one of `values`.
        endpoint_type (EndpointType | Unset): Which evaluation endpoint produced a stored evaluation.
        page (int | Unset): The page number, from 1; 1 when left out.
        page_size (int | Unset): How many evaluations a page holds; 50 when left out.
    """

    filters: list[TagFilter] | Unset = UNSET
    criteria_filter: CriteriaFilter | Unset = UNSET
    endpoint_type: EndpointType | Unset = UNSET
    page: int | Unset = UNSET
    page_size: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        filters: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.filters, Unset):
            filters = []
            for filters_item_data in self.filters:
                filters_item = filters_item_data.to_dict()
                filters.append(filters_item)

        criteria_filter: dict[str, Any] | Unset = UNSET
        if not isinstance(self.criteria_filter, Unset):
            criteria_filter = self.criteria_filter.to_dict()

        endpoint_type: str | Unset = UNSET
        if not isinstance(self.endpoint_type, Unset):
            endpoint_type = self.endpoint_type.value

        page = self.page

        page_size = self.page_size

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if filters is not UNSET:
            field_dict["filters"] = filters
        if criteria_filter is not UNSET:
            field_dict["criteria_filter"] = criteria_filter
        if endpoint_type is not UNSET:
            field_dict["endpoint_type"] = endpoint_type
        if page is not UNSET:
            field_dict["page"] = page
        if page_size is not UNSET:
            field_dict["page_size"] = page_size

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.criteria_filter import CriteriaFilter
        from ..models.tag_filter import TagFilter

        d = dict(src_dict)
        _filters = d.pop("filters", UNSET)
        filters: list[TagFilter] | Unset = UNSET
        if _filters is not UNSET:
            filters = []
            for filters_item_data in _filters:
                filters_item = TagFilter.from_dict(filters_item_data)

                filters.append(filters_item)

        _criteria_filter = d.pop("criteria_filter", UNSET)
        criteria_filter: CriteriaFilter | Unset
        if isinstance(_criteria_filter, Unset):
            criteria_filter = UNSET
        else:
            criteria_filter = CriteriaFilter.from_dict(_criteria_filter)

        _endpoint_type = d.pop("endpoint_type", UNSET)
        endpoint_type: EndpointType | Unset
        if isinstance(_endpoint_type, Unset):
            endpoint_type = UNSET
        else:
            endpoint_type = EndpointType(_endpoint_type)

        page = d.pop("page", UNSET)

        page_size = d.pop("page_size", UNSET)

        evaluation_filter_request = cls(
            filters=filters,
            criteria_filter=criteria_filter,
            endpoint_type=endpoint_type,
            page=page,
            page_size=page_size,
        )

        return evaluation_filter_request
