"""Contains all the data models used in inputs/outputs"""

from .agent_instance import AgentInstance
from .agent_trace_result import AgentTraceResult
from .agent_trace_result_results_by_agent_instance_id import (
    AgentTraceResultResultsByAgentInstanceId,
)
from .attach_comment_request import AttachCommentRequest
from .attach_comment_response import AttachCommentResponse
from .attach_rating_request import AttachRatingRequest
from .attach_rating_response import AttachRatingResponse
from .background_task_response import BackgroundTaskResponse
from .chat_message import ChatMessage
from .criteria_filter import CriteriaFilter
from .criteria_metadata_request import CriteriaMetadataRequest
from .criteria_metadata_response import CriteriaMetadataResponse
from .data_retention_mode import DataRetentionMode
from .endpoint_type import EndpointType
from .error_response import ErrorResponse
from .evaluation_filter_request import EvaluationFilterRequest
from .evaluation_filter_response import EvaluationFilterResponse
from .evaluation_record import EvaluationRecord
from .evaluation_record_tags_type_0 import EvaluationRecordTagsType0
from .explanation_cleaning import ExplanationCleaning
from .llm_input import LLMInput
from .llm_interaction import LLMInteraction
from .llm_output import LLMOutput
from .llm_tool_call import LLMToolCall
from .llm_tool_definition import LLMToolDefinition
from .llm_tool_response import LLMToolResponse
from .model_core import ModelCore
from .multi_agent_trace import MultiAgentTrace
from .multi_agent_trace_agent_instance_by_id import MultiAgentTraceAgentInstanceById
from .multi_agent_trace_response import MultiAgentTraceResponse
from .multi_agent_trace_response_results_by_agent_name import (
    MultiAgentTraceResponseResultsByAgentName,
)
from .rate_limits_response import RateLimitsResponse
from .reward_request import RewardRequest
from .score_response import ScoreResponse
from .source import Source
from .summary_statistics import SummaryStatistics
from .tag_filter import TagFilter
from .tags import Tags
from .tool_definition import ToolDefinition
from .trace_evaluation import TraceEvaluation
from .trace_evaluation_sub_trace_type_0 import TraceEvaluationSubTraceType0
from .trace_list_response import TraceListResponse
from .trace_request import TraceRequest
from .trace_response import TraceResponse
from .trace_response_tags_type_0 import TraceResponseTagsType0
from .trace_response_trace_type_0 import TraceResponseTraceType0
from .usage import Usage
from .usage_models import UsageModels
from .usage_response import UsageResponse
from .validation_error_item import ValidationErrorItem
from .validation_error_response import ValidationErrorResponse

__all__ = (
    "AgentInstance",
    "AgentTraceResult",
    "AgentTraceResultResultsByAgentInstanceId",
    "AttachCommentRequest",
    "AttachCommentResponse",
    "AttachRatingRequest",
    "AttachRatingResponse",
    "BackgroundTaskResponse",
    "ChatMessage",
    "CriteriaFilter",
    "CriteriaMetadataRequest",
    "CriteriaMetadataResponse",
    "DataRetentionMode",
    "EndpointType",
    "ErrorResponse",
    "EvaluationFilterRequest",
    "EvaluationFilterResponse",
    "EvaluationRecord",
    "EvaluationRecordTagsType0",
    "ExplanationCleaning",
    "LLMInput",
    "LLMInteraction",
    "LLMOutput",
    "LLMToolCall",
    "LLMToolDefinition",
    "LLMToolResponse",
    "ModelCore",
    "MultiAgentTrace",
    "MultiAgentTraceAgentInstanceById",
    "MultiAgentTraceResponse",
    "MultiAgentTraceResponseResultsByAgentName",
    "RateLimitsResponse",
    "RewardRequest",
    "ScoreResponse",
    "Source",
    "SummaryStatistics",
    "TagFilter",
    "Tags",
    "ToolDefinition",
    "TraceEvaluation",
    "TraceEvaluationSubTraceType0",
    "TraceListResponse",
    "TraceRequest",
    "TraceResponse",
    "TraceResponseTagsType0",
    "TraceResponseTraceType0",
    "Usage",
    "UsageModels",
    "UsageResponse",
    "ValidationErrorItem",
    "ValidationErrorResponse",
)
