from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.multi_agent_trace_response_results_by_agent_name import (
        MultiAgentTraceResponseResultsByAgentName,
    )


T = TypeVar("T", bound="MultiAgentTraceResponse")


@_attrs_define
class MultiAgentTraceResponse:
    """The results of a trace evaluation, grouped by agent name.

    Attributes:
        request_id (str): The id of the stored trace (use it with `GET /api/v1/traces/{trace_id}`).
        results_by_agent_name (MultiAgentTraceResponseResultsByAgentName): One result per agent name.
    """

    request_id: str
    results_by_agent_name: MultiAgentTraceResponseResultsByAgentName
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        request_id = self.request_id

        results_by_agent_name = self.results_by_agent_name.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "request_id": request_id,
                "results_by_agent_name": results_by_agent_name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.multi_agent_trace_response_results_by_agent_name import (
            MultiAgentTraceResponseResultsByAgentName,
        )

        d = dict(src_dict)
        request_id = d.pop("request_id")

        results_by_agent_name = MultiAgentTraceResponseResultsByAgentName.from_dict(
            d.pop("results_by_agent_name")
        )

        multi_agent_trace_response = cls(
            request_id=request_id,
            results_by_agent_name=results_by_agent_name,
        )

        multi_agent_trace_response.additional_properties = d
        return multi_agent_trace_response

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
