"""Service rules that openapi.yaml cannot state, checked in code the way the service does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from composo._mock._validate import ErrorItem, value_error

# Model cores whose name starts with this are the fast "lightning" cores.
LIGHTNING_PREFIX: Final = "align-lightning"

# Lightning cores that only take binary (pass/fail) criteria.
BINARY_ONLY_CORES: Final = frozenset({"align-lightning-20251127"})

# Criteria with these prefixes score 0 or 1.
BINARY_PREFIXES: Final = ("Passes if", "Fails if")

# The core the service uses when the request names none.
DEFAULT_MODEL_CORE: Final = "align-20251111"


def normalise_criterion(criterion: str) -> str:
    """The criterion as the service reads it: first character upper-cased."""
    return criterion[:1].upper() + criterion[1:]


def is_binary(criterion: str) -> bool:
    """Whether a criterion is pass/fail (scores 0 or 1)."""
    return normalise_criterion(criterion).startswith(BINARY_PREFIXES)


def _exactly_one(body: Mapping[str, Any]) -> list[ErrorItem]:
    # The spec states this too; kept here so the mock holds the rule if the spec drops it.
    given = [name for name in ("evaluation_criteria", "evaluator_name") if name in body]
    if len(given) == 1:
        return []
    text = (
        "'evaluation_criteria' and 'evaluator_name' cannot both be given"
        if given
        else "one of 'evaluation_criteria' or 'evaluator_name' must be given"
    )
    return [value_error(["body"], text, dict(body))]


def _is_lightning(core: object) -> bool:
    return isinstance(core, str) and core.startswith(LIGHTNING_PREFIX)


def reward_rule_errors(body: Mapping[str, Any]) -> list[ErrorItem]:
    """Violations of the reward endpoint's rules beyond the schema."""
    errors = _exactly_one(body)
    core = body.get("model_core")
    if not _is_lightning(core):
        return errors
    if body.get("evaluate_latest", True) is False:
        errors.append(
            value_error(
                ["body", "evaluate_latest"],
                f"evaluate_latest=false is not supported by the lightning model core {core!r};"
                " use an align core",
                False,
            )
        )
    criteria = body.get("evaluation_criteria")
    if core in BINARY_ONLY_CORES and isinstance(criteria, str) and not is_binary(criteria):
        errors.append(
            value_error(
                ["body", "evaluation_criteria"],
                f"the model core {core!r} only takes binary criteria starting with"
                " 'Passes if' or 'Fails if'",
                criteria,
            )
        )
    return errors


def has_llm_interaction(instance: Mapping[str, Any]) -> bool:
    """Whether an agent instance holds at least one LLM interaction (not only child ids)."""
    return any(isinstance(entry, dict) for entry in instance.get("interactions", ()))


def trace_rule_errors(body: Mapping[str, Any]) -> list[ErrorItem]:
    """Violations of the trace endpoint's rules beyond the schema."""
    errors = _exactly_one(body)
    core = body.get("model_core")
    if _is_lightning(core):
        errors.append(
            value_error(
                ["body", "model_core"],
                f"the lightning model core {core!r} cannot evaluate traces; use an align core"
                f" such as {DEFAULT_MODEL_CORE!r}",
                core,
            )
        )
    instances = body["trace"]["agent_instance_by_id"].values()
    if not any(has_llm_interaction(instance) for instance in instances):
        errors.append(
            value_error(
                ["body", "trace"],
                "the trace holds no LLM interaction; at least one agent instance must hold one",
                body["trace"],
            )
        )
    return errors
