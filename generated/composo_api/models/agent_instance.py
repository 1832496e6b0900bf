from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.llm_interaction import LLMInteraction


T = TypeVar("T", bound="AgentInstance")


@_attrs_define
class AgentInstance:
    """One run of an agent. `interactions` is ordered; each item is an LLM interaction or the
    id of a child agent instance invoked at that point.

        Attributes:
            id (str): The instance's id, its key in `agent_instance_by_id`.
            name (str): The agent's name; results are grouped by it.
            interactions (list[LLMInteraction | str]): LLM interactions and child-instance ids, in order.
    """

    id: str
    name: str
    interactions: list[LLMInteraction | str]

    def to_dict(self) -> dict[str, Any]:
        from ..models.llm_interaction import LLMInteraction

        id = self.id

        name = self.name

        interactions = []
        for interactions_item_data in self.interactions:
            interactions_item: dict[str, Any] | str
            if isinstance(interactions_item_data, LLMInteraction):
                interactions_item = interactions_item_data.to_dict()
            else:
                interactions_item = interactions_item_data
            interactions.append(interactions_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "interactions": interactions,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.llm_interaction import LLMInteraction

        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        interactions = []
        _interactions = d.pop("interactions")
        for interactions_item_data in _interactions:

            def _parse_interactions_item(data: object) -> LLMInteraction | str:
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    interactions_item_type_0 = LLMInteraction.from_dict(data)

                    return interactions_item_type_0
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                return cast(LLMInteraction | str, data)

            interactions_item = _parse_interactions_item(interactions_item_data)

            interactions.append(interactions_item)

        agent_instance = cls(
            id=id,
            name=name,
            interactions=interactions,
        )

        return agent_instance
