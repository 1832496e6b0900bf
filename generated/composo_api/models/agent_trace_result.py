from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.agent_trace_result_results_by_agent_instance_id import (
        AgentTraceResultResultsByAgentInstanceId,
    )
    from ..models.summary_statistics import SummaryStatistics


T = TypeVar("T", bound="AgentTraceResult")


@_attrs_define
class AgentTraceResult:
    """The results of one agent's instances.

    Attributes:
        agent_name (str): The agent's name.
        results_by_agent_instance_id (AgentTraceResultResultsByAgentInstanceId): The result of each instance; `null` for
            an instance that was not scored.
        summary_statistics (None | SummaryStatistics | Unset): Statistics over the instance scores; `null` for binary
            criteria.
    """

    agent_name: str
    results_by_agent_instance_id: AgentTraceResultResultsByAgentInstanceId
    summary_statistics: None | SummaryStatistics | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.summary_statistics import SummaryStatistics

        agent_name = self.agent_name

        results_by_agent_instance_id = self.results_by_agent_instance_id.to_dict()

        summary_statistics: dict[str, Any] | None | Unset
        if isinstance(self.summary_statistics, Unset):
            summary_statistics = UNSET
        elif isinstance(self.summary_statistics, SummaryStatistics):
            summary_statistics = self.summary_statistics.to_dict()
        else:
            summary_statistics = self.summary_statistics

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "agent_name": agent_name,
                "results_by_agent_instance_id": results_by_agent_instance_id,
            }
        )
        if summary_statistics is not UNSET:
            field_dict["summary_statistics"] = summary_statistics

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.agent_trace_result_results_by_agent_instance_id import (
            AgentTraceResultResultsByAgentInstanceId,
        )
        from ..models.summary_statistics import SummaryStatistics

        d = dict(src_dict)
        agent_name = d.pop("agent_name")

        results_by_agent_instance_id = (
            AgentTraceResultResultsByAgentInstanceId.from_dict(
                d.pop("results_by_agent_instance_id")
            )
        )

        def _parse_summary_statistics(data: object) -> None | SummaryStatistics | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                summary_statistics_type_0 = SummaryStatistics.from_dict(data)

                return summary_statistics_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SummaryStatistics | Unset, data)

        summary_statistics = _parse_summary_statistics(
            d.pop("summary_statistics", UNSET)
        )

        agent_trace_result = cls(
            agent_name=agent_name,
            results_by_agent_instance_id=results_by_agent_instance_id,
            summary_statistics=summary_statistics,
        )

        agent_trace_result.additional_properties = d
        return agent_trace_result

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
