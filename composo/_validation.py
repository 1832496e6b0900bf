"""Checks on caller input that raise `MalformedError` before anything is sent.

Each check mirrors a rule the server enforces, so a mistake costs no round trip and the message
can say exactly what to change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from composo._constants import (
    BINARY_ONLY_CORES,
    BINARY_PREFIXES,
    CRITERIA_PREFIXES,
    LIGHTNING_CORE_PREFIX,
    MAX_CRITERIA_LENGTH,
    MAX_EVALUATOR_NAME_LENGTH,
    MAX_TAG_LENGTH,
    MIN_MESSAGES,
)
from composo._exceptions import bad_input

# How much of a refused criterion to quote back: enough to recognise it, not a wall of text.
_QUOTE_LENGTH = 40

# Suggested when a lightning core is refused; the server's default align core.
_SUGGESTED_ALIGN_CORE = "align-20251111"


def _type_name(value: object) -> str:
    """The name of a value's type, for messages."""
    return type(value).__name__


def _quote(text: str) -> str:
    """The start of `text` in quotes, cut short with an ellipsis when long."""
    if len(text) <= _QUOTE_LENGTH:
        return repr(text)
    return repr(text[:_QUOTE_LENGTH]) + "..."


def _server_capitalized(text: str) -> str:
    """`text` with only its first character upper-cased, as the server does before checking."""
    return text[:1].upper() + text[1:]


def is_binary_criterion(criterion: str) -> bool:
    """Tell whether a criterion is scored 0 or 1 ("Passes if" / "Fails if").

    Args:
        criterion: The criterion text.

    Returns:
        True when it starts with a binary prefix after the first character is upper-cased.
    """
    return _server_capitalized(criterion).startswith(BINARY_PREFIXES)


def _string_list(value: object, name: str) -> tuple[list[str], bool]:
    """A str or a list/tuple of str as a new list, plus whether a bare str was given."""
    if isinstance(value, str):
        return [value], True
    if not isinstance(value, (list, tuple)):
        raise bad_input(f"{name} must be a string or a list of strings, got {_type_name(value)}")
    if not value:
        raise bad_input(f"{name} is an empty list; pass at least one")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise bad_input(f"{name}[{index}] must be a string, got {_type_name(item)}")
    return list(value), False


def _label(name: str, index: int, single: bool) -> str:
    """How a message refers to one item: `criteria` for a bare str, `criteria[2]` in a list."""
    return name if single else f"{name}[{index}]"


def normalize_criteria(criteria: object) -> tuple[list[str], bool]:
    """Check the `criteria` argument and turn it into a list.

    Args:
        criteria: One criterion string, or a list or tuple of them.

    Returns:
        The criteria as a new list, and True when a single string was given (so the caller
        can return a single result rather than a list).

    Raises:
        MalformedError: Not a str or list of str, an empty list, or a criterion that is blank,
            longer than 4096 characters, or does not start with an accepted prefix.
    """
    items, single = _string_list(criteria, "criteria")
    allowed = ", ".join(repr(prefix) for prefix in CRITERIA_PREFIXES)
    for index, criterion in enumerate(items):
        label = _label("criteria", index, single)
        if not criterion.strip():
            raise bad_input(
                f"{label} is blank; write a criterion such as 'Reward responses that ...'"
            )
        if len(criterion) > MAX_CRITERIA_LENGTH:
            raise bad_input(
                f"{label} has {len(criterion)} characters; the limit is {MAX_CRITERIA_LENGTH}"
            )
        if not _server_capitalized(criterion).startswith(CRITERIA_PREFIXES):
            raise bad_input(
                f"{label} must start with one of {allowed} (only the first letter may be lower "
                f"case, and nothing may come before it); got {_quote(criterion)}"
            )
    return items, single


def normalize_evaluator_names(value: object) -> tuple[list[str], bool]:
    """Check the `evaluator_name` argument and turn it into a list.

    Args:
        value: One saved evaluator's name, or a list or tuple of them.

    Returns:
        The names as a new list, and True when a single string was given.

    Raises:
        MalformedError: Not a str or list of str, an empty list, or a name that is blank or
            longer than 255 characters.
    """
    items, single = _string_list(value, "evaluator_name")
    for index, name in enumerate(items):
        label = _label("evaluator_name", index, single)
        if not name.strip():
            raise bad_input(f"{label} is blank; pass the name of a saved evaluator")
        if len(name) > MAX_EVALUATOR_NAME_LENGTH:
            raise bad_input(
                f"{label} has {len(name)} characters; the limit is {MAX_EVALUATOR_NAME_LENGTH}"
            )
    return items, single


def check_exactly_one(criteria: object, evaluator_name: object) -> None:
    """Check that exactly one of `criteria` and `evaluator_name` was given.

    Args:
        criteria: The `criteria` argument; None means not given.
        evaluator_name: The `evaluator_name` argument; None means not given.

    Raises:
        MalformedError: Both are None, or both are given.
    """
    if criteria is None and evaluator_name is None:
        raise bad_input(
            "pass criteria (for example 'Reward responses that ...') or the evaluator_name "
            "of a saved evaluator"
        )
    if criteria is not None and evaluator_name is not None:
        raise bad_input("pass either criteria or evaluator_name, not both")


def convert_tags(tags: Mapping[str, object] | None) -> dict[str, str] | None:
    """Check tags and convert their values to the strings the server accepts.

    Args:
        tags: Tag names to values; values may be str, int, float or bool.

    Returns:
        A new dict of str to str (bools as "true"/"false"), or None when `tags` is None.

    Raises:
        MalformedError: Not a mapping, a key that is not a non-empty str of at most 64
            characters, or a value that is of another type, is NaN or infinite, or is longer
            than 64 characters once converted.
    """
    if tags is None:
        return None
    if not isinstance(tags, Mapping):
        raise bad_input(f"tags must be a mapping of str to str, got {_type_name(tags)}")
    converted: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str):
            raise bad_input(f"tag key {key!r} must be a string, got {_type_name(key)}")
        if not key:
            raise bad_input("tag keys must not be empty")
        if len(key) > MAX_TAG_LENGTH:
            raise bad_input(
                f"tag key {_quote(key)} has {len(key)} characters; the limit is {MAX_TAG_LENGTH}"
            )
        text = _tag_value(key, value)
        if len(text) > MAX_TAG_LENGTH:
            raise bad_input(
                f"tags[{key!r}] has {len(text)} characters; the limit is {MAX_TAG_LENGTH}"
            )
        converted[str.__str__(key)] = text
    return converted


def _tag_value(key: str, value: object) -> str:
    """One tag value as the server's string; the base-type methods ignore enum `__str__`s."""
    # bool first: it is a subclass of int, and str(True) would be "True".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise bad_input(f"tags[{key!r}] is {value!r}; tag numbers must be finite")
        return float.__repr__(value)
    raise bad_input(
        f"tags[{key!r}] is a {_type_name(value)}; tag values must be str, int, float or bool"
    )


def build_messages(messages: object, result_message: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Check the conversation and append the result message, without touching the caller's list.

    Args:
        messages: The conversation: a list or tuple of message dicts.
        result_message: The assistant turn built from `result=`, or None.

    Returns:
        A new list holding the caller's messages, then `result_message` once when given.

    Raises:
        MalformedError: Not a list or tuple, an item that is not a dict, or fewer than 2
            messages in total.
    """
    if not isinstance(messages, (list, tuple)):
        raise bad_input(f"messages must be a list of dicts, got {_type_name(messages)}")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad_input(f"messages[{index}] must be a dict, got {_type_name(message)}")
    built: list[dict[str, Any]] = list(messages)
    if result_message is not None:
        built.append(result_message)
    if len(built) < MIN_MESSAGES:
        counted = "with the result" if result_message is not None else "and no result"
        raise bad_input(
            f"messages holds {len(built)} message(s) {counted}; at least {MIN_MESSAGES} are "
            "needed, such as a user turn and the assistant reply (result= can supply the "
            "assistant turn)"
        )
    return built


def is_lightning_core(core: str) -> bool:
    """Tell whether a model core is a lightning core (fast, last turn only, no traces).

    Args:
        core: The model core name.

    Returns:
        True when the name starts with "align-lightning".
    """
    return core.startswith(LIGHTNING_CORE_PREFIX)


def check_core_takes_criteria(core: str, criteria: list[str]) -> None:
    """Refuse graded criteria on a core that takes only binary ones, as the server does.

    Raises:
        MalformedError: A criterion that does not start with "Passes if" / "Fails if".
    """
    if core not in BINARY_ONLY_CORES:
        return
    for criterion in criteria:
        if not is_binary_criterion(criterion):
            raise bad_input(
                f"model_core {core!r} takes only binary criteria ('Passes if ...' or "
                f"'Fails if ...'), got {_quote(criterion)}; use an align core such as "
                f"{_SUGGESTED_ALIGN_CORE!r} for graded criteria"
            )


def check_model_core(
    core: object, *, for_trace: bool = False, evaluate_latest: bool | None = None
) -> str:
    """Check a `model_core` the caller gave; names this SDK does not know are accepted.

    Args:
        core: The model core name.
        for_trace: True when the core will score a multi-agent trace.
        evaluate_latest: The `evaluate_latest` argument, None when not given.

    Returns:
        The core, unchanged.

    Raises:
        MalformedError: Not a str, blank, or a lightning core used for a trace or with
            `evaluate_latest=False`.
    """
    if not isinstance(core, str):
        raise bad_input(f"model_core must be a string, got {_type_name(core)}")
    if not core.strip():
        raise bad_input(
            f"model_core is blank; leave it out or name a core such as {_SUGGESTED_ALIGN_CORE!r}"
        )
    if is_lightning_core(core):
        if for_trace:
            raise bad_input(
                f"model_core {core!r} cannot evaluate traces; use an align core such as "
                f"{_SUGGESTED_ALIGN_CORE!r}"
            )
        if evaluate_latest is False:
            raise bad_input(
                f"model_core {core!r} cannot score every turn (evaluate_latest=False); use an "
                f"align core such as {_SUGGESTED_ALIGN_CORE!r}"
            )
    return core
