from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..models.data_retention_mode import DataRetentionMode
from ..models.explanation_cleaning import ExplanationCleaning
from ..models.model_core import ModelCore
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.chat_message import ChatMessage
    from ..models.tags import Tags
    from ..models.tool_definition import ToolDefinition


T = TypeVar("T", bound="RewardRequest")


@_attrs_define
class RewardRequest:
    """A conversation and the one criterion (`evaluation_criteria`) or saved evaluator
    (`evaluator_name`) to score it against: exactly one of the two. Unknown fields are
    refused; leave optional fields out rather than sending `null`.

        Attributes:
            messages (list[ChatMessage]): The conversation, oldest first; at least two messages.
            evaluation_criteria (str | Unset): A natural-language criterion. It must start with `Reward` or `Penalize`
                (graded score
                in [0, 1]) or with `Passes if` or `Fails if` (binary score, 0 or 1). The server
                upper-cases the first character before it checks the prefix, so `passes if ...` is
                accepted, while `Passes If ...` or a leading space is not.
            evaluator_name (str | Unset): The name of an evaluator saved in the Composo platform.
            model_core (ModelCore | str | Unset): A model core, one of `ModelCore` or a newer core's name.
            system (str | Unset): A separate system prompt (Anthropic style).
            tools (list[ToolDefinition] | Unset): The tools the assistant could call.
            tags (Tags | Unset): Labels stored with the evaluation for filtering later (`POST /api/v1/evaluations/filter`)
                and analytics. Keys and values are strings of at most 64 characters; convert numbers
                and booleans to strings before sending.
            evaluate_latest (bool | Unset): `true` scores only the last assistant turn; `false` scores every assistant turn
                (refused for Lightning cores). Left out, the service uses `true`.
            explanation_cleaning (ExplanationCleaning | Unset): `end_user`: also return `cleaned_explanation`, a version of
                the explanation worded for
                the end user of the evaluated application.
            data_retention (DataRetentionMode | str | Unset): What the service stores of this request: a `DataRetentionMode`
                (`standard` when left out, or `none`). More modes are planned, so the field accepts any non-empty string: a
                client generated from this version can send a mode added later without being regenerated. The service answers
                `422` for a mode it does not know (a misspelt one, or a newer one sent to an older deployment).
            trace_id (UUID | Unset): Attach this evaluation to an existing stored trace.
    """

    messages: list[ChatMessage]
    evaluation_criteria: str | Unset = UNSET
    evaluator_name: str | Unset = UNSET
    model_core: ModelCore | str | Unset = UNSET
    system: str | Unset = UNSET
    tools: list[ToolDefinition] | Unset = UNSET
    tags: Tags | Unset = UNSET
    evaluate_latest: bool | Unset = UNSET
    explanation_cleaning: ExplanationCleaning | Unset = UNSET
    data_retention: DataRetentionMode | str | Unset = UNSET
    trace_id: UUID | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        messages = []
        for messages_item_data in self.messages:
            messages_item = messages_item_data.to_dict()
            messages.append(messages_item)

        evaluation_criteria = self.evaluation_criteria

        evaluator_name = self.evaluator_name

        model_core: str | Unset
        if isinstance(self.model_core, Unset):
            model_core = UNSET
        elif isinstance(self.model_core, ModelCore):
            model_core = self.model_core.value
        else:
            model_core = self.model_core

        system = self.system

        tools: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.tools, Unset):
            tools = []
            for tools_item_data in self.tools:
                tools_item = tools_item_data.to_dict()
                tools.append(tools_item)

        tags: dict[str, Any] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags.to_dict()

        evaluate_latest = self.evaluate_latest

        explanation_cleaning: str | Unset = UNSET
        if not isinstance(self.explanation_cleaning, Unset):
            explanation_cleaning = self.explanation_cleaning.value

        data_retention: str | Unset
        if isinstance(self.data_retention, Unset):
            data_retention = UNSET
        elif isinstance(self.data_retention, DataRetentionMode):
            data_retention = self.data_retention.value
        else:
            data_retention = self.data_retention

        trace_id: str | Unset = UNSET
        if not isinstance(self.trace_id, Unset):
            trace_id = str(self.trace_id)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "messages": messages,
            }
        )
        if evaluation_criteria is not UNSET:
            field_dict["evaluation_criteria"] = evaluation_criteria
        if evaluator_name is not UNSET:
            field_dict["evaluator_name"] = evaluator_name
        if model_core is not UNSET:
            field_dict["model_core"] = model_core
        if system is not UNSET:
            field_dict["system"] = system
        if tools is not UNSET:
            field_dict["tools"] = tools
        if tags is not UNSET:
            field_dict["tags"] = tags
        if evaluate_latest is not UNSET:
            field_dict["evaluate_latest"] = evaluate_latest
        if explanation_cleaning is not UNSET:
            field_dict["explanation_cleaning"] = explanation_cleaning
        if data_retention is not UNSET:
            field_dict["data_retention"] = data_retention
        if trace_id is not UNSET:
            field_dict["trace_id"] = trace_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.chat_message import ChatMessage
        from ..models.tags import Tags
        from ..models.tool_definition import ToolDefinition

        d = dict(src_dict)
        messages = []
        _messages = d.pop("messages")
        for messages_item_data in _messages:
            messages_item = ChatMessage.from_dict(messages_item_data)

            messages.append(messages_item)

        evaluation_criteria = d.pop("evaluation_criteria", UNSET)

        evaluator_name = d.pop("evaluator_name", UNSET)

        def _parse_model_core(data: object) -> ModelCore | str | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_model_core_name_type_0 = ModelCore(data)

                return componentsschemas_model_core_name_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ModelCore | str | Unset, data)

        model_core = _parse_model_core(d.pop("model_core", UNSET))

        system = d.pop("system", UNSET)

        _tools = d.pop("tools", UNSET)
        tools: list[ToolDefinition] | Unset = UNSET
        if _tools is not UNSET:
            tools = []
            for tools_item_data in _tools:
                tools_item = ToolDefinition.from_dict(tools_item_data)

                tools.append(tools_item)

        _tags = d.pop("tags", UNSET)
        tags: Tags | Unset
        if isinstance(_tags, Unset):
            tags = UNSET
        else:
            tags = Tags.from_dict(_tags)

        evaluate_latest = d.pop("evaluate_latest", UNSET)

        _explanation_cleaning = d.pop("explanation_cleaning", UNSET)
        explanation_cleaning: ExplanationCleaning | Unset
        if isinstance(_explanation_cleaning, Unset):
            explanation_cleaning = UNSET
        else:
            explanation_cleaning = ExplanationCleaning(_explanation_cleaning)

        def _parse_data_retention(data: object) -> DataRetentionMode | str | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_data_retention_type_0 = DataRetentionMode(data)

                return componentsschemas_data_retention_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DataRetentionMode | str | Unset, data)

        data_retention = _parse_data_retention(d.pop("data_retention", UNSET))

        _trace_id = d.pop("trace_id", UNSET)
        trace_id: UUID | Unset
        if isinstance(_trace_id, Unset):
            trace_id = UNSET
        else:
            trace_id = UUID(_trace_id)

        reward_request = cls(
            messages=messages,
            evaluation_criteria=evaluation_criteria,
            evaluator_name=evaluator_name,
            model_core=model_core,
            system=system,
            tools=tools,
            tags=tags,
            evaluate_latest=evaluate_latest,
            explanation_cleaning=explanation_cleaning,
            data_retention=data_retention,
            trace_id=trace_id,
        )

        return reward_request
