"""Ready-made evaluation criteria for retrieval-augmented generation (RAG) and agents.

Each constant is one criterion string, usable wherever `criteria=` is accepted; `rag` and
`agent` bundle them so a whole family can be scored in one call::

    from composo import Composo, criteria

    client = Composo()
    result = client.evaluate(messages=messages, criteria=criteria.rag_faithfulness)
    results = client.evaluate(messages=messages, criteria=criteria.rag)

The lists are fresh module constants; copy one before changing it (`criteria.rag + [mine]`).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "agent",
    "agent_exploitation",
    "agent_exploration",
    "agent_faithfulness",
    "agent_goal_pursuit",
    "agent_tool_use",
    "rag",
    "rag_completeness",
    "rag_faithfulness",
    "rag_precision",
    "rag_relevance",
]

rag_faithfulness: Final = (
    "Reward responses that make only claims supported by the retrieved context, and penalize "
    "any statement that contradicts the context or adds facts that cannot be found in it"
)

rag_completeness: Final = (
    "Reward responses that include all of the information in the retrieved context that is "
    "needed to answer the user's question fully, without leaving out relevant details"
)

rag_precision: Final = (
    "Reward responses that use only the parts of the retrieved context that bear on the user's "
    "question, leaving out retrieved material that is irrelevant or distracting"
)

rag_relevance: Final = (
    "Reward responses that directly answer the question the user asked, staying on topic "
    "instead of drifting into related but unrequested information"
)

agent_exploration: Final = (
    "Reward agents that gather the information they need before acting, using the available "
    "tools to investigate unfamiliar parts of the task instead of guessing"
)

agent_exploitation: Final = (
    "Reward agents that build on what they have already learned, reusing earlier tool results "
    "and observations instead of repeating calls that cannot yield anything new"
)

agent_tool_use: Final = (
    "Reward agents that choose the right tool for each step, call it with correct and complete "
    "arguments, and interpret its output accurately"
)

agent_goal_pursuit: Final = (
    "Reward agents that stay focused on the user's goal, take steps that make clear progress "
    "towards it, and stop once it has been achieved"
)

agent_faithfulness: Final = (
    "Reward agents whose statements and final answers agree with their tool results and "
    "instructions, without inventing facts, actions or outcomes that did not happen"
)

rag: Final[list[str]] = [rag_faithfulness, rag_completeness, rag_precision, rag_relevance]

agent: Final[list[str]] = [
    agent_exploration,
    agent_exploitation,
    agent_tool_use,
    agent_goal_pursuit,
    agent_faithfulness,
]
