"""What the mock remembers of the evaluations it scored: traces, annotations, usage.

Everything is in memory and bounded, so a long benchmark cannot grow the process without
limit: the newest `max_traces` traces and `max_evaluations` evaluation rows are kept (older
ones are forgotten, oldest first), and each trace keeps its newest `MAX_PER_TRACE` evaluations
and comments. Only the server's event loop thread touches a Store.
"""

from __future__ import annotations

import base64
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

MAX_TRACES: Final = 10_000
MAX_EVALUATIONS: Final = 10_000

# Per trace, so one trace_id reused by a whole benchmark stays bounded too.
MAX_PER_TRACE: Final = 1_000

_TOKEN_PREFIX: Final = "mock-v1:"

_TRACE_EVALUATION_FIELDS: Final = (
    "id",
    "evaluator_name",
    "criteria",
    "score",
    "explanation",
    "sub_trace",
    "sources",
    "cached",
    "c_cached_tokens",
)
_EVALUATION_RECORD_FIELDS: Final = (
    "id",
    "trace_id",
    "created_at",
    "endpoint_type",
    "criteria",
    "evaluator_name",
    "score",
    "explanation",
    "tags",
)


class InvalidPageToken(ValueError):
    """A page_token this server did not hand out."""


def timestamp(moment: datetime) -> str:
    """RFC 3339 with a `Z`, as the service writes times."""
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class TraceRecord:
    """One stored trace."""

    id: str
    seq: int
    created_at: datetime
    tags: dict[str, str] | None
    trace: dict[str, Any] | None
    rating: bool | None = None
    evaluations: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_PER_TRACE))
    comments: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_PER_TRACE))

    def to_json(self) -> dict[str, Any]:
        """The TraceResponse body."""
        return {
            "id": self.id,
            "created_at": timestamp(self.created_at),
            "tags": self.tags,
            "rating": self.rating,
            "trace": self.trace,
            "comments": list(self.comments),
            "evaluations": [
                {key: row[key] for key in _TRACE_EVALUATION_FIELDS} for row in self.evaluations
            ],
        }


@dataclass(frozen=True, slots=True)
class Result:
    """One score to store: a reward result, or one agent instance of a trace result."""

    score: float | None
    explanation: str | None
    sources: list[dict[str, str]] | None = None
    sub_trace: dict[str, Any] | None = None


@dataclass
class Usage:
    """Requests and (estimated) tokens used since the server started or was reset."""

    requests: int = 0
    tokens: int = 0
    models: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, model_core: str, tokens: int) -> None:
        """Counts one evaluation request."""
        self.requests += 1
        self.tokens += tokens
        model = self.models.get(model_core)
        if model is None:
            model = self.models[model_core] = {"requests": 0, "tokens": 0}
        model["requests"] += 1
        model["tokens"] += tokens


class Store:
    """The traces, evaluations, annotations and usage of one mock server."""

    def __init__(
        self, max_traces: int = MAX_TRACES, max_evaluations: int = MAX_EVALUATIONS
    ) -> None:
        """An empty store keeping at most `max_traces` traces and `max_evaluations` rows."""
        self.max_traces = max_traces
        self.max_evaluations = max_evaluations
        self.traces: OrderedDict[str, TraceRecord] = OrderedDict()
        self.evaluations: deque[dict[str, Any]] = deque()
        self.criteria_counts: dict[tuple[str, str], int] = {}
        self.usage = Usage()
        self._seq = 0

    def get(self, trace_id: str) -> TraceRecord | None:
        """The stored trace with this id (any UUID spelling), or None."""
        try:
            return self.traces.get(str(uuid.UUID(trace_id)))
        except ValueError:
            return None

    def _trace_for(
        self, trace_id: str | None, tags: Mapping[str, str] | None, stored_input: dict[str, Any]
    ) -> TraceRecord:
        record = self.get(trace_id) if trace_id is not None else None
        if record is not None:
            if tags:
                record.tags = {**(record.tags or {}), **tags}
            return record
        self._seq += 1
        new_id = str(uuid.UUID(trace_id)) if trace_id is not None else str(uuid.uuid4())
        record = TraceRecord(
            id=new_id,
            seq=self._seq,
            created_at=datetime.now(UTC),
            tags=dict(tags) if tags else None,
            trace=stored_input,
        )
        self.traces[new_id] = record
        if len(self.traces) > self.max_traces:
            self.traces.popitem(last=False)
        return record

    def add_evaluation(
        self,
        *,
        trace_id: str | None,
        endpoint_type: str,
        criteria: str | None,
        evaluator_name: str | None,
        tags: Mapping[str, str] | None,
        stored_input: dict[str, Any],
        results: Iterable[Result],
    ) -> str:
        """Stores the results of one evaluation request on a trace.

        Args:
            trace_id: the trace to attach to; a new trace (with this id, if given) otherwise.
            endpoint_type: `reward` or `trace`.
            criteria: the criterion used, if any.
            evaluator_name: the saved evaluator used, if any.
            tags: the request's tags.
            stored_input: what TraceResponse.trace shows (the conversation or the trace).
            results: the scores to store, one row each.

        Returns:
            The id of the trace holding the evaluation.
        """
        record = self._trace_for(trace_id, tags, stored_input)
        now = timestamp(datetime.now(UTC))
        for result in results:
            row = {
                "id": str(uuid.uuid4()),
                "trace_id": record.id,
                "created_at": now,
                "endpoint_type": endpoint_type,
                "criteria": criteria,
                "evaluator_name": evaluator_name,
                "score": result.score,
                "explanation": result.explanation,
                "tags": dict(tags) if tags else None,
                "sub_trace": result.sub_trace,
                "sources": result.sources,
                "cached": False,
                "c_cached_tokens": 0,
            }
            record.evaluations.append(row)
            self._append_row(row)
        return record.id

    def _append_row(self, row: dict[str, Any]) -> None:
        if len(self.evaluations) >= self.max_evaluations:
            self._count_criteria(self.evaluations.popleft(), -1)
        self.evaluations.append(row)
        self._count_criteria(row, 1)

    def _count_criteria(self, row: Mapping[str, Any], delta: int) -> None:
        if row["criteria"] is None:
            return
        key = (row["endpoint_type"], row["criteria"])
        count = self.criteria_counts.get(key, 0) + delta
        if count > 0:
            self.criteria_counts[key] = count
        else:
            self.criteria_counts.pop(key, None)

    def add_comment(self, trace_id: str, comment: str) -> dict[str, Any] | None:
        """Attaches a comment; None when no such trace is stored."""
        record = self.get(trace_id)
        if record is None:
            return None
        stored = {
            "id": str(uuid.uuid4()),
            "trace_id": record.id,
            "comment": comment,
            "created_at": timestamp(datetime.now(UTC)),
        }
        record.comments.append(stored)
        return stored

    def set_rating(self, trace_id: str, rating: bool) -> TraceRecord | None:
        """Sets a trace's rating; None when no such trace is stored."""
        record = self.get(trace_id)
        if record is not None:
            record.rating = rating
        return record

    def list_traces(
        self,
        page_token: str | None,
        page_size: int,
        start: datetime | None,
        end: datetime | None,
    ) -> tuple[list[TraceRecord], str | None]:
        """One page of traces, newest first, and the token of the next page (None if last).

        Raises:
            InvalidPageToken: for a token this store did not produce.
        """
        before = _decode_token(page_token) if page_token else None
        page: list[TraceRecord] = []
        for record in reversed(self.traces.values()):
            if before is not None and record.seq >= before:
                continue
            if (start is not None and record.created_at < start) or (
                end is not None and record.created_at > end
            ):
                continue
            if len(page) == page_size:
                return page, _encode_token(page[-1].seq)
            page.append(record)
        return page, None

    def filter_evaluations(
        self,
        tag_filters: Sequence[Mapping[str, Any]],
        criteria: Sequence[str] | None,
        endpoint_type: str | None,
    ) -> list[dict[str, Any]]:
        """Stored evaluation rows, newest first, matching every tag filter, criterion and type."""
        wanted = None if criteria is None else set(criteria)
        return [
            {key: row[key] for key in _EVALUATION_RECORD_FIELDS}
            for row in reversed(self.evaluations)
            if (endpoint_type is None or row["endpoint_type"] == endpoint_type)
            and (wanted is None or row["criteria"] in wanted)
            and all((row["tags"] or {}).get(f["key"]) in f["values"] for f in tag_filters)
        ]

    def criteria(self, endpoint_type: str | None) -> list[str]:
        """The distinct criteria of the stored evaluations, sorted."""
        return sorted({c for (kind, c) in self.criteria_counts if endpoint_type in (None, kind)})


def _encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{seq}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if text.startswith(_TOKEN_PREFIX):
            return int(text[len(_TOKEN_PREFIX) :])
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidPageToken(token)
