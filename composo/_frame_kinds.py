"""The kinds of table `evaluate_frame` reads and gives back, each behind one small adapter.

| input                                   | read with                         | returned as       |
|-----------------------------------------|-----------------------------------|-------------------|
| `pandas.DataFrame`                      | column slices, `Series.tolist()`  | `pandas.DataFrame`|
| `polars.DataFrame`                      | `iter_slices()`, `to_list()`      | `polars.DataFrame`|
| `datasets.Dataset`                      | `Dataset.iter(batch_size=...)`    | `datasets.Dataset`|
|                                         |                                   | (Python format)   |
| `pyarrow.Table`                         | `to_batches()`, `to_pylist()`     | `pyarrow.Table`   |
| a `.parquet`, `.jsonl`/`.ndjson`, `.csv`| pandas (JSONL line by line)       | `pandas.DataFrame`|

An adapter hands out the columns it is asked for a chunk of rows at a time, as Python values,
so a frame of any size is never copied whole into Python objects; and it builds the result,
the input's own columns untouched (shared, not copied, where the library allows) plus the new
ones. The libraries are optional extras: they are imported only here, only when the input is
one of theirs (then they are loaded already) or a path needs them.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from composo._exceptions import ComposoError, MalformedError, bad_input

# Rows converted to Python objects at a time: large enough that the per-chunk cost of the
# libraries' conversions disappears, small enough that a chunk of long conversations stays
# a few megabytes.
CHUNK_ROWS = 1024

# The types of the columns evaluate_frame adds.
ColumnType = Literal["float", "str", "int"]
# (name, type, values) per new column, handed over one at a time: an adapter converts each
# list to its library's column and drops it before taking the next, so the Python values and
# the finished columns are never all held at once.
NewColumns = Iterator[tuple[str, ColumnType, list[Any]]]

_PATH_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
}


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import an optional library, or say which extra brings it.

    Raises:
        ImportError: The library is not installed; the message names the pip command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs {module.split('.')[0]}: pip install 'composo[{extra}]' ({exc})"
        ) from exc


class Table:
    """One input table: its columns, its rows in chunks, and the result built from it."""

    kind = "table"

    def __init__(self, columns: Sequence[object], num_rows: int) -> None:
        self.columns = list(columns)
        self.num_rows = num_rows
        # Rows found broken before any column was read (an unreadable JSONL line, say).
        self.row_errors: dict[int, ComposoError] = {}

    def check_columns(self, names: Sequence[str]) -> None:
        """Refuse a column that is missing or named twice, before anything is read."""
        for name in names:
            count = self.columns.count(name)
            if count == 0:
                have = ", ".join(repr(c) for c in self.columns[:20])
                more = ", ..." if len(self.columns) > 20 else ""
                raise bad_input(
                    f"the {self.kind} has no column {name!r}; its columns are {have}{more}"
                )
            if count > 1:
                raise bad_input(f"the {self.kind} has {count} columns named {name!r}")

    def arrow_backed(self, name: str) -> bool:
        """Whether dicts in this column come from Arrow structs, where a missing field and a
        null are the same thing (so a None value means the field was absent)."""
        return True

    def chunks(self, names: list[str]) -> Iterator[list[list[Any]]]:
        """The named columns' values, CHUNK_ROWS rows at a time, in row order."""
        raise NotImplementedError

    def wide(self, new: NewColumns) -> Any:
        """The input with `new` columns added; same rows, same order."""
        raise NotImplementedError

    def long(self, rows: list[int], new: NewColumns) -> Any:
        """The input's rows at positions `rows` (repeats allowed), with `new` columns added."""
        raise NotImplementedError


class PandasTable(Table):
    kind = "DataFrame"

    def __init__(self, frame: Any) -> None:
        super().__init__(list(frame.columns), len(frame))
        self.frame = frame
        self._pd = sys.modules["pandas"]

    def arrow_backed(self, name: str) -> bool:
        # An object column holds whatever Python objects were put in: None there is the
        # caller's own. (Arrays of dicts read from Parquet are recognised cell by cell.)
        return isinstance(self.frame[name].dtype, getattr(self._pd, "ArrowDtype", ()))

    def chunks(self, names: list[str]) -> Iterator[list[list[Any]]]:
        series = [self.frame[name] for name in names]
        for start in range(0, self.num_rows, CHUNK_ROWS):
            stop = start + CHUNK_ROWS
            yield [s.iloc[start:stop].tolist() for s in series]

    def _column(self, kind: ColumnType, values: list[Any]) -> Any:
        np = importlib.import_module("numpy")
        if kind == "float":
            return np.array([math.nan if v is None else v for v in values], dtype="float64")
        if kind == "int":
            return np.array(values, dtype="int64")
        # pandas 3 has a string dtype of its own (missing values are NaN); pandas 2 keeps
        # strings as objects unless told otherwise.
        major = int(self._pd.__version__.split(".")[0])
        return self._pd.array(values, dtype="str" if major >= 3 else object)

    def wide(self, new: NewColumns) -> Any:
        out = self.frame.copy(deep=False)  # the input's columns are shared, not copied
        for name, kind, values in new:
            out[name] = self._column(kind, values)
        return out

    def long(self, rows: list[int], new: NewColumns) -> Any:
        out = self.frame.take(rows)  # keeps each row's index label, repeated
        for name, kind, values in new:
            out[name] = self._column(kind, values)
        return out


class PolarsTable(Table):
    kind = "DataFrame"

    def __init__(self, frame: Any) -> None:
        super().__init__(frame.columns, frame.height)
        self.frame = frame
        self._pl = sys.modules["polars"]

    def chunks(self, names: list[str]) -> Iterator[list[list[Any]]]:
        for part in self.frame.select(names).iter_slices(n_rows=CHUNK_ROWS):
            yield [part.get_column(name).to_list() for name in names]

    def _series(self, new: NewColumns) -> list[Any]:
        types = {"float": self._pl.Float64, "str": self._pl.String, "int": self._pl.Int64}
        return [self._pl.Series(name, values, dtype=types[kind]) for name, kind, values in new]

    def wide(self, new: NewColumns) -> Any:
        return self.frame.with_columns(self._series(new))

    def long(self, rows: list[int], new: NewColumns) -> Any:
        repeated = self.frame.select(self._pl.all().gather(rows))
        return repeated.with_columns(self._series(new))


def _arrow_type(pa: ModuleType, kind: ColumnType) -> Any:
    return {"float": pa.float64(), "str": pa.string(), "int": pa.int64()}[kind]


class ArrowTable(Table):
    kind = "Table"

    def __init__(self, table: Any) -> None:
        super().__init__(table.column_names, table.num_rows)
        self.table = table
        self._pa = sys.modules["pyarrow"]

    def chunks(self, names: list[str]) -> Iterator[list[list[Any]]]:
        for batch in self.table.select(names).to_batches(max_chunksize=CHUNK_ROWS):
            yield [batch.column(i).to_pylist() for i in range(len(names))]

    def _add(self, table: Any, new: NewColumns) -> Any:
        for name, kind, values in new:
            table = table.append_column(name, self._pa.array(values, _arrow_type(self._pa, kind)))
        return table

    def wide(self, new: NewColumns) -> Any:
        return self._add(self.table, new)

    def long(self, rows: list[int], new: NewColumns) -> Any:
        # Typed: an empty list would be an Arrow null array, which take() refuses.
        return self._add(self.table.take(self._pa.array(rows, self._pa.int64())), new)


class DatasetTable(Table):
    kind = "Dataset"

    def __init__(self, dataset: Any) -> None:
        super().__init__(dataset.column_names, dataset.num_rows)
        self.dataset = dataset
        self._ds = sys.modules["datasets"]

    def chunks(self, names: list[str]) -> Iterator[list[list[Any]]]:
        # Plain Python values whatever format the caller set (numpy, torch...); the caller's
        # dataset keeps its format.
        plain = self.dataset.with_format(None).select_columns(names)
        for batch in plain.iter(batch_size=CHUNK_ROWS):
            yield [batch[name] for name in names]

    def _added(self, table: Any, new: NewColumns) -> Any:
        # Built in Arrow and wrapped once: `Dataset.add_column` and `concatenate_datasets`
        # would first flatten an indices mapping (after shuffle, select or filter) with a
        # progress bar of their own. The features (ClassLabel, Image...) are kept as they were.
        pa = require("pyarrow", "datasets", "evaluate_frame on a Dataset")
        types = {"float": "float64", "str": "string", "int": "int64"}
        features = self.dataset.features.copy()
        for name, kind, values in new:
            table = table.append_column(name, pa.array(values, _arrow_type(pa, kind)))
            features[name] = self._ds.Value(types[kind])
        info = copy.deepcopy(self.dataset.info)
        info.features = features
        # The schema's metadata says the new features, so the Dataset need not cast (copy)
        # the table to them; and a fingerprint is given, as datasets' own in-memory
        # transforms do, because computing one hashes every byte of the table.
        table = table.replace_schema_metadata(features.arrow_schema.metadata)
        fingerprint = importlib.import_module("datasets.fingerprint")
        return self._ds.Dataset(
            table,
            info=info,
            split=self.dataset.split,
            fingerprint=fingerprint.generate_random_fingerprint(),
        )

    def wide(self, new: NewColumns) -> Any:
        return self._added(self.dataset.with_format("arrow")[:], new)

    def long(self, rows: list[int], new: NewColumns) -> Any:
        return self._added(self.dataset.with_format("arrow")[rows], new)


def _read_jsonl(pd: ModuleType, path: Path) -> PandasTable:
    """A JSONL file as a pandas frame, one row per non-blank line; a line that is not a JSON
    object becomes an empty row with its error, so the rest are still scored."""
    records: list[dict[str, Any]] = []
    errors: dict[int, ComposoError] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                errors[len(records)] = MalformedError(
                    f"line {number} of {path.name} is not valid JSON ({exc.msg} at column "
                    f"{exc.colno})"
                )
                record = {}
            if not isinstance(record, dict):
                errors[len(records)] = MalformedError(
                    f"line {number} of {path.name} is a JSON {type(record).__name__}, not an object"
                )
                record = {}
            records.append(record)
    table = PandasTable(pd.DataFrame.from_records(records) if records else pd.DataFrame())
    table.row_errors = errors
    return table


def read_path(path: Path) -> PandasTable:
    """A Parquet, JSONL or CSV file as a pandas frame (what `pandas.read_*` would give)."""
    form = _PATH_SUFFIXES.get(path.suffix.lower())
    if form is None:
        raise bad_input(
            f"{path} is not a file evaluate_frame reads; give a .parquet, .jsonl, .ndjson or "
            ".csv file, or read it yourself and pass the frame"
        )
    if not path.is_file():
        raise bad_input(f"{path} is not a file")
    if form == "parquet":
        pd = require("pandas", "pandas,arrow", "evaluate_frame on a Parquet file")
        require("pyarrow", "pandas,arrow", "evaluate_frame on a Parquet file")
        return PandasTable(pd.read_parquet(path))
    pd = require("pandas", "pandas", f"evaluate_frame on a {path.suffix} file")
    if form == "csv":
        return PandasTable(pd.read_csv(path))
    return _read_jsonl(pd, path)


def table_of(data: object) -> Table:
    """The adapter for `data`, or MalformedError naming what is accepted."""
    if isinstance(data, str | os.PathLike):
        return read_path(Path(data))
    # A library that is not imported cannot have made `data`, so none is imported here.
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        return PandasTable(data)
    pl = sys.modules.get("polars")
    if pl is not None:
        if isinstance(data, pl.DataFrame):
            return PolarsTable(data)
        if isinstance(data, pl.LazyFrame):
            raise bad_input("evaluate_frame needs the rows: pass lazy_frame.collect()")
    ds = sys.modules.get("datasets")
    if ds is not None:
        if isinstance(data, ds.Dataset):
            return DatasetTable(data)
        if isinstance(data, ds.DatasetDict):
            split = next(iter(data), "train")
            raise bad_input(f"evaluate_frame takes one split of a DatasetDict: data[{split!r}]")
        if isinstance(data, ds.IterableDataset):
            raise bad_input(
                "evaluate_frame needs a datasets.Dataset with all its rows (an "
                "IterableDataset streams); load it without streaming=True"
            )
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(data, pa.Table):
        return ArrowTable(data)
    if pd is not None and isinstance(data, pd.Series):
        raise bad_input("evaluate_frame takes a DataFrame; pass series.to_frame()")
    raise bad_input(
        "evaluate_frame takes a pandas or polars DataFrame, a datasets.Dataset, a "
        f"pyarrow.Table or the path of a .parquet, .jsonl or .csv file; got "
        f"{type(data).__name__} (for a list of dicts, use client.evaluate_batch)"
    )
