from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.agent_instance import AgentInstance


T = TypeVar("T", bound="MultiAgentTraceAgentInstanceById")


@_attrs_define
class MultiAgentTraceAgentInstanceById:
    """Every agent instance of the run, keyed by its id."""

    additional_properties: dict[str, AgentInstance] = _attrs_field(
        init=False, factory=dict
    )

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        for prop_name, prop in self.additional_properties.items():
            field_dict[prop_name] = prop.to_dict()

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.agent_instance import AgentInstance

        d = dict(src_dict)
        multi_agent_trace_agent_instance_by_id = cls()

        additional_properties = {}
        for prop_name, prop_dict in d.items():
            additional_property = AgentInstance.from_dict(prop_dict)

            additional_properties[prop_name] = additional_property

        multi_agent_trace_agent_instance_by_id.additional_properties = (
            additional_properties
        )
        return multi_agent_trace_agent_instance_by_id

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> AgentInstance:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: AgentInstance) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
