"""Rows of a table as batch items, and batch results as columns: the I/O-free half of
`evaluate_frame`.

A `FramePlan` is checked once, before anything is sent: which columns hold the conversation
(a column of message lists, or a `prompt` and a `response` column), which hold the optional
parts, how the criteria name the result columns, and that none of those names is taken. It
then turns each row into a batch item, or records the `MalformedError` that says why the row
cannot be scored without sending it, and writes each result into preallocated per-criterion
lists by row position, so results may arrive in any order and nothing but those lists grows
with the table.
"""

from __future__ import annotations

import array
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from composo._batch import BatchResult
from composo._exceptions import ComposoError, MalformedError, bad_input
from composo._frame_kinds import ColumnType, NewColumns, Table
from composo._validation import normalize_criteria

# What the columns `evaluate_frame` adds are called, per criterion (see `result_name`).
FIELDS = ("score", "explanation", "error")
CLEANED_FIELD = "cleaned_explanation"
# The long format's own columns: the row's position in the input, and which criterion.
ROW, CRITERION = "row", "criterion"


def is_missing(value: object) -> bool:
    """None, NaN, or pandas' NA / NaT: a cell with nothing in it."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in {"NAType", "NaTType"}


def plain(value: Any, drop_nulls: bool) -> Any:
    """A cell as the plain lists, dicts and scalars a request is made of.

    NumPy arrays (pandas gives them for list columns read from Parquet or Arrow) become lists
    and NumPy scalars Python ones. With `drop_nulls`, and always inside a NumPy array of
    objects, dict entries whose value is None are left out: such dicts come from Arrow
    structs, which give every row every field of the column, None where the row had none.
    """
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {
            key: plain(item, drop_nulls)
            for key, item in value.items()
            if not (drop_nulls and item is None)
        }
    if isinstance(value, list | tuple):
        return [plain(item, drop_nulls) for item in value]
    if type(value).__module__ == "numpy":
        if getattr(value, "ndim", 0) == 0:
            return value.item()
        if value.dtype == object:
            return [plain(item, True) for item in value]
        return value.tolist()
    return value


def _column_name(value: object, argument: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise bad_input(f"{argument}= names a column: give a str, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Inputs:
    """Which column holds which part of each row's evaluation."""

    messages: str | None
    prompt: str | None
    response: str | None
    id: str | None
    system: str | None
    tools: str | None
    tags: str | tuple[str, ...] | None

    @classmethod
    def check(
        cls,
        *,
        messages: object,
        prompt: object,
        response: object,
        id: object,
        system: object,
        tools: object,
        tags: object,
    ) -> Inputs:
        """Check the column arguments of `evaluate_frame`.

        Raises:
            MalformedError: A name that is not a str, or both `messages` and `prompt`.
        """
        if messages is not None and prompt is not None:
            raise bad_input(
                "name the conversation's column(s) one way: messages= (a column of message "
                "lists) or prompt= with response= (text columns), not both"
            )
        if isinstance(tags, list | tuple):
            tag_columns = tuple(_column_name(t, "tags") or "" for t in tags)
            if not tag_columns or "" in tag_columns:
                raise bad_input("tags= names a column of dicts, or a non-empty list of columns")
            tag_spec: str | tuple[str, ...] | None = tag_columns
        else:
            tag_spec = _column_name(tags, "tags")
        prompt_name = _column_name(prompt, "prompt")
        # The conversation is in "messages" unless the caller named it or gave prompts.
        messages_name = _column_name(messages, "messages")
        if prompt_name is None and messages_name is None:
            messages_name = "messages"
        return cls(
            messages=messages_name,
            prompt=prompt_name,
            response=_column_name(response, "response"),
            id=_column_name(id, "id"),
            system=_column_name(system, "system"),
            tools=_column_name(tools, "tools"),
            tags=tag_spec,
        )

    def columns(self) -> list[str]:
        """Every column read, each once, in a fixed order."""
        named = [self.messages, self.prompt, self.response, self.id, self.system, self.tools]
        if isinstance(self.tags, tuple):
            named.extend(self.tags)
        else:
            named.append(self.tags)
        return list(dict.fromkeys(name for name in named if name is not None))


def check_criteria(criteria: object) -> tuple[list[str], list[str], list[str]]:
    """The criteria's texts, the prefixes that name their result columns, and the labels the
    long format's `criterion` column shows.

    A str gives unprefixed columns (`score`); a list or tuple gives `criterion_1_score`,
    `criterion_2_score`... in order; a dict gives `<key>_score` for each key. The long format
    labels rows with the dict's keys, else with the criteria's texts.

    Raises:
        MalformedError: A criterion the service would refuse, or a dict key that is not a
            non-empty str.
    """
    if isinstance(criteria, Mapping):
        keys = list(criteria)
        for key in keys:
            if not isinstance(key, str) or not key.strip():
                raise bad_input(
                    f"criteria dict keys name the result columns: give non-empty strs, got {key!r}"
                )
        texts, _ = normalize_criteria(list(criteria.values()))
        return texts, keys, keys
    texts, single = normalize_criteria(criteria)
    if single:
        return texts, [""], texts
    return texts, [f"criterion_{number}" for number in range(1, len(texts) + 1)], texts


def describe(error: ComposoError) -> str:
    """What an `error` cell says: `<ErrorClass>: <message>`."""
    return f"{type(error).__name__}: {error}"


def result_name(prefix: str, field: str) -> str:
    """`score` for an unprefixed criterion, `<prefix>_score` otherwise."""
    return f"{prefix}_{field}" if prefix else field


def _parsed(value: object, column: str, what: str) -> object:
    """A str cell holding JSON (as CSV exports store lists and dicts) parsed; others as is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise bad_input(
            f"column {column!r} holds text that is not JSON {what} ({exc.msg} at column "
            f"{exc.colno})"
        ) from exc


def _text(value: object, column: str) -> str:
    if is_missing(value):
        raise bad_input(f"column {column!r} is empty in this row")
    if not isinstance(value, str):
        raise bad_input(f"column {column!r} must hold text, got {type(value).__name__}")
    return value


def _id(value: object) -> str | None:
    if is_missing(value):
        return None
    value = plain(value, False)
    # pandas stores an int column with a gap as floats: 7.0 is the row called 7.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


class FramePlan:
    """One `evaluate_frame` call, checked: the rows to read and the columns to write."""

    def __init__(
        self,
        table: Table,
        criteria: object,
        inputs: Inputs,
        *,
        long: object,
        cleaned: bool,
    ) -> None:
        if not isinstance(long, bool):
            raise bad_input(f"long must be True or False, got {long!r}")
        self.table = table
        self.inputs = inputs
        self.criteria, self.prefixes, self._labels = check_criteria(criteria)
        self.long = long
        self.fields = (*FIELDS, CLEANED_FIELD) if cleaned else FIELDS
        self._read = inputs.columns()
        table.check_columns(self._read)
        self._drop = {name: table.arrow_backed(name) for name in self._read}
        taken = [name for name in self.output_columns() if name in table.columns]
        if taken:
            hint = (
                "rename them first"
                if long
                else "name the criteria with a dict ({'name': 'Reward ...'}) or rename them"
            )
            raise bad_input(
                f"the {table.kind} already has column(s) {', '.join(map(repr, taken))} that "
                f"the results would replace; {hint}"
            )
        rows, width = table.num_rows, len(self.criteria)
        # Preallocated, one slot per (criterion, row): results are written by position.
        self._values: dict[str, list[list[Any]]] = {
            field: [[None] * rows for _ in range(width)] for field in self.fields
        }
        # The row of each item sent, by the batch's item index (8 bytes a row).
        self._rows = array.array("q")
        # Results written without a request: rows that cannot be scored, once per criterion.
        self.skipped = 0

    @property
    def total(self) -> int:
        """How many (row, criterion) results the batch yields."""
        return self.table.num_rows * len(self.criteria)

    def output_columns(self) -> list[str]:
        """The names of the columns the result adds, in order."""
        if self.long:
            return [ROW, CRITERION, *self.fields]
        return [result_name(p, field) for p in self.prefixes for field in self.fields]

    def items(self) -> Iterator[dict[str, Any]]:
        """One batch item per row that can be scored, in row order, read lazily a chunk at a
        time. A row that cannot be scored is not sent: its error is written for every
        criterion at once, and counted in `skipped`."""
        row = 0
        for chunk in self.table.chunks(self._read):
            for cells in zip(*chunk, strict=True):
                item = self.table.row_errors.get(row) or self._item(cells)
                if isinstance(item, ComposoError):
                    self._fail(row, item)
                else:
                    self._rows.append(row)
                    yield item
                row += 1

    def _fail(self, row: int, error: ComposoError) -> None:
        text = describe(error)
        for which in range(len(self.criteria)):
            self._values["error"][which][row] = text
        self.skipped += len(self.criteria)

    def _item(self, cells: Sequence[Any]) -> dict[str, Any] | ComposoError:
        row = dict(zip(self._read, cells, strict=True))
        inputs = self.inputs
        try:
            item: dict[str, Any] = {}
            if inputs.prompt is not None:
                item["messages"] = [
                    {"role": "user", "content": _text(row[inputs.prompt], inputs.prompt)}
                ]
            else:
                assert inputs.messages is not None
                value = row[inputs.messages]
                if is_missing(value):
                    raise bad_input(f"column {inputs.messages!r} is empty in this row")
                item["messages"] = self._structured(inputs.messages, value, "(a list of messages)")
            if inputs.response is not None:
                value = row[inputs.response]
                if is_missing(value):
                    raise bad_input(f"column {inputs.response!r} is empty in this row")
                item["result"] = plain(value, self._drop[inputs.response])
            if inputs.id is not None:
                item["id"] = _id(row[inputs.id])
            if inputs.system is not None and not is_missing(row[inputs.system]):
                item["system"] = _text(row[inputs.system], inputs.system)
            if inputs.tools is not None and not is_missing(row[inputs.tools]):
                item["tools"] = self._structured(
                    inputs.tools, row[inputs.tools], "(a list of tools)"
                )
            tags = self._tags(row)
            if tags:
                item["tags"] = tags
        except MalformedError as error:
            return error
        return item

    def _structured(self, column: str, value: object, what: str) -> Any:
        return plain(_parsed(value, column, what), self._drop[column])

    def _tags(self, row: Mapping[str, Any]) -> Any:
        spec = self.inputs.tags
        if spec is None:
            return None
        if isinstance(spec, tuple):
            # One tag per named column, from the cells that hold something.
            return {name: plain(row[name], False) for name in spec if not is_missing(row[name])}
        if is_missing(row[spec]):
            return None
        return self._structured(spec, row[spec], "(an object of tags)")

    def add(self, result: BatchResult) -> None:
        """Write one result into its row's slots."""
        # The batch numbers the items it was given; rows that were not sent leave gaps.
        at, which = self._rows[result.index], result.criterion_index
        values = self._values
        if result.response is not None:
            values["score"][which][at] = result.response.score
            values["explanation"][which][at] = result.response.explanation
            if CLEANED_FIELD in values:
                values[CLEANED_FIELD][which][at] = result.response.cleaned_explanation
        if result.error is not None:
            values["error"][which][at] = describe(result.error)

    def result(self) -> Any:
        """The table with the result columns: wide, or long (one row per row and criterion).
        Call it once: each list of values is released as its column is built."""
        if not self.long:
            return self.table.wide(self._wide())
        rows = [row for row in range(self.table.num_rows) for _ in self.criteria]
        return self.table.long(rows, self._long(rows))

    def _release(self, field: str, which: int) -> list[Any]:
        values = self._values[field][which]
        self._values[field][which] = []
        return values

    def _wide(self) -> NewColumns:
        for which, prefix in enumerate(self.prefixes):
            for field in self.fields:
                kind: ColumnType = "float" if field == "score" else "str"
                yield result_name(prefix, field), kind, self._release(field, which)

    def _long(self, rows: list[int]) -> NewColumns:
        # Row by row, then criterion by criterion: the order `collect()` gives.
        yield ROW, "int", rows
        yield CRITERION, "str", self._labels * self.table.num_rows
        width = len(self.criteria)
        for field in self.fields:
            per_criterion = [self._release(field, which) for which in range(width)]
            kind: ColumnType = "float" if field == "score" else "str"
            flat = [value for row in zip(*per_criterion, strict=True) for value in row]
            del per_criterion
            yield field, kind, flat
