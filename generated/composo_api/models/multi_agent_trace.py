from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.multi_agent_trace_agent_instance_by_id import (
        MultiAgentTraceAgentInstanceById,
    )


T = TypeVar("T", bound="MultiAgentTrace")


@_attrs_define
class MultiAgentTrace:
    """A multi-agent run, with every agent instance by id and the id of the root one.

    Attributes:
        root_agent_instance_id (str): The id of the instance the run started with.
        agent_instance_by_id (MultiAgentTraceAgentInstanceById): Every agent instance of the run, keyed by its id.
    """

    root_agent_instance_id: str
    agent_instance_by_id: MultiAgentTraceAgentInstanceById

    def to_dict(self) -> dict[str, Any]:
        root_agent_instance_id = self.root_agent_instance_id

        agent_instance_by_id = self.agent_instance_by_id.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "root_agent_instance_id": root_agent_instance_id,
                "agent_instance_by_id": agent_instance_by_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.multi_agent_trace_agent_instance_by_id import (
            MultiAgentTraceAgentInstanceById,
        )

        d = dict(src_dict)
        root_agent_instance_id = d.pop("root_agent_instance_id")

        agent_instance_by_id = MultiAgentTraceAgentInstanceById.from_dict(
            d.pop("agent_instance_by_id")
        )

        multi_agent_trace = cls(
            root_agent_instance_id=root_agent_instance_id,
            agent_instance_by_id=agent_instance_by_id,
        )

        return multi_agent_trace
