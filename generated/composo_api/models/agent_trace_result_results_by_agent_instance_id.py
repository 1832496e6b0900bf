from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.score_response import ScoreResponse


T = TypeVar("T", bound="AgentTraceResultResultsByAgentInstanceId")


@_attrs_define
class AgentTraceResultResultsByAgentInstanceId:
    """The result of each instance; `null` for an instance that was not scored."""

    additional_properties: dict[str, None | ScoreResponse] = _attrs_field(
        init=False, factory=dict
    )

    def to_dict(self) -> dict[str, Any]:
        from ..models.score_response import ScoreResponse

        field_dict: dict[str, Any] = {}
        for prop_name, prop in self.additional_properties.items():
            if isinstance(prop, ScoreResponse):
                field_dict[prop_name] = prop.to_dict()
            else:
                field_dict[prop_name] = prop

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.score_response import ScoreResponse

        d = dict(src_dict)
        agent_trace_result_results_by_agent_instance_id = cls()

        additional_properties = {}
        for prop_name, prop_dict in d.items():

            def _parse_additional_property(data: object) -> None | ScoreResponse:
                if data is None:
                    return data
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    additional_property_type_0 = ScoreResponse.from_dict(data)

                    return additional_property_type_0
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                return cast(None | ScoreResponse, data)

            additional_property = _parse_additional_property(prop_dict)

            additional_properties[prop_name] = additional_property

        agent_trace_result_results_by_agent_instance_id.additional_properties = (
            additional_properties
        )
        return agent_trace_result_results_by_agent_instance_id

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> None | ScoreResponse:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: None | ScoreResponse) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
