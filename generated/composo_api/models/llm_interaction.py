from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.llm_input import LLMInput
    from ..models.llm_output import LLMOutput
    from ..models.llm_tool_definition import LLMToolDefinition


T = TypeVar("T", bound="LLMInteraction")


@_attrs_define
class LLMInteraction:
    """One call to an LLM inside an agent instance.

    Attributes:
        input_messages (list[LLMInput]): What the LLM was given.
        output_messages (list[LLMOutput]): What the LLM produced.
        tools_available (list[LLMToolDefinition] | None | Unset): The tools the LLM could call, if any.
    """

    input_messages: list[LLMInput]
    output_messages: list[LLMOutput]
    tools_available: list[LLMToolDefinition] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        input_messages = []
        for input_messages_item_data in self.input_messages:
            input_messages_item = input_messages_item_data.to_dict()
            input_messages.append(input_messages_item)

        output_messages = []
        for output_messages_item_data in self.output_messages:
            output_messages_item = output_messages_item_data.to_dict()
            output_messages.append(output_messages_item)

        tools_available: list[dict[str, Any]] | None | Unset
        if isinstance(self.tools_available, Unset):
            tools_available = UNSET
        elif isinstance(self.tools_available, list):
            tools_available = []
            for tools_available_type_0_item_data in self.tools_available:
                tools_available_type_0_item = tools_available_type_0_item_data.to_dict()
                tools_available.append(tools_available_type_0_item)

        else:
            tools_available = self.tools_available

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "input_messages": input_messages,
                "output_messages": output_messages,
            }
        )
        if tools_available is not UNSET:
            field_dict["tools_available"] = tools_available

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.llm_input import LLMInput
        from ..models.llm_output import LLMOutput
        from ..models.llm_tool_definition import LLMToolDefinition

        d = dict(src_dict)
        input_messages = []
        _input_messages = d.pop("input_messages")
        for input_messages_item_data in _input_messages:
            input_messages_item = LLMInput.from_dict(input_messages_item_data)

            input_messages.append(input_messages_item)

        output_messages = []
        _output_messages = d.pop("output_messages")
        for output_messages_item_data in _output_messages:
            output_messages_item = LLMOutput.from_dict(output_messages_item_data)

            output_messages.append(output_messages_item)

        def _parse_tools_available(
            data: object,
        ) -> list[LLMToolDefinition] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                tools_available_type_0 = []
                _tools_available_type_0 = data
                for tools_available_type_0_item_data in _tools_available_type_0:
                    tools_available_type_0_item = LLMToolDefinition.from_dict(
                        tools_available_type_0_item_data
                    )

                    tools_available_type_0.append(tools_available_type_0_item)

                return tools_available_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[LLMToolDefinition] | None | Unset, data)

        tools_available = _parse_tools_available(d.pop("tools_available", UNSET))

        llm_interaction = cls(
            input_messages=input_messages,
            output_messages=output_messages,
            tools_available=tools_available,
        )

        return llm_interaction
