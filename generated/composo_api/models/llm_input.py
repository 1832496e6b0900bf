from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.llm_tool_call import LLMToolCall
    from ..models.llm_tool_response import LLMToolResponse


T = TypeVar("T", bound="LLMInput")


@_attrs_define
class LLMInput:
    """One message given to the LLM.

    Attributes:
        role (str): The message's role (`system`, `user`, `assistant`, `tool`, ...).
        content (LLMToolCall | LLMToolResponse | str): Text, a tool call, or a tool response.
        type_ (None | str | Unset): Free text such as `text`, `tool_call`, `tool_response`, `thinking_tokens`.
    """

    role: str
    content: LLMToolCall | LLMToolResponse | str
    type_: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.llm_tool_call import LLMToolCall
        from ..models.llm_tool_response import LLMToolResponse

        role = self.role

        content: dict[str, Any] | str
        if isinstance(self.content, LLMToolCall) or isinstance(
            self.content, LLMToolResponse
        ):
            content = self.content.to_dict()
        else:
            content = self.content

        type_: None | str | Unset
        if isinstance(self.type_, Unset):
            type_ = UNSET
        else:
            type_ = self.type_

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "role": role,
                "content": content,
            }
        )
        if type_ is not UNSET:
            field_dict["type"] = type_

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.llm_tool_call import LLMToolCall
        from ..models.llm_tool_response import LLMToolResponse

        d = dict(src_dict)
        role = d.pop("role")

        def _parse_content(data: object) -> LLMToolCall | LLMToolResponse | str:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                content_type_1 = LLMToolCall.from_dict(data)

                return content_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                content_type_2 = LLMToolResponse.from_dict(data)

                return content_type_2
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LLMToolCall | LLMToolResponse | str, data)

        content = _parse_content(d.pop("content"))

        def _parse_type_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        type_ = _parse_type_(d.pop("type", UNSET))

        llm_input = cls(
            role=role,
            content=content,
            type_=type_,
        )

        return llm_input
