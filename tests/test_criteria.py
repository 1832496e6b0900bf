"""Tests for composo.criteria: every ready-made criterion is one the server accepts."""

from __future__ import annotations

import pytest

from composo import criteria
from composo._validation import normalize_criteria

ALL = [getattr(criteria, name) for name in criteria.__all__ if name not in ("rag", "agent")]


@pytest.mark.parametrize("criterion", ALL)
def test_every_criterion_passes_local_validation(criterion: str) -> None:
    assert normalize_criteria(criterion) == ([criterion], True)


def test_bundles_pass_local_validation_as_lists() -> None:
    assert normalize_criteria(criteria.rag) == (criteria.rag, False)
    assert normalize_criteria(criteria.agent) == (criteria.agent, False)


def test_bundles_hold_every_criterion_of_their_family_once() -> None:
    rag = sorted(name for name in criteria.__all__ if name.startswith("rag_"))
    agent = sorted(name for name in criteria.__all__ if name.startswith("agent_"))
    assert criteria.rag == [getattr(criteria, name) for name in _in_module_order(rag)]
    assert criteria.agent == [getattr(criteria, name) for name in _in_module_order(agent)]
    assert len(set(ALL)) == len(ALL) == 9


def _in_module_order(names: list[str]) -> list[str]:
    order = list(vars(criteria))
    return sorted(names, key=order.index)


def test_all_lists_exactly_the_public_names() -> None:
    # "@py..." names come from pytest's assertion rewriting of the installed plugin's package.
    public = {name for name in vars(criteria) if not name.startswith(("_", "@"))} - {
        "annotations",
        "Final",
    }
    assert set(criteria.__all__) == public
    assert criteria.__all__ == sorted(criteria.__all__)
