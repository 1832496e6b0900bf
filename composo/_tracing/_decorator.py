"""`@agent_tracer`: run a function, coroutine function or generator as one traced agent run.

The agent must be current exactly while the function's own code runs. For a plain function
that is the call; for an `async def` it is the coroutine's execution, so the wrapper is a
coroutine function too; for a generator or an async generator it is each stretch between
two yields: the agent is made current when the generator resumes and the caller's context
is restored when it yields, so code consuming the items is not traced as this agent.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, overload

from composo._tracing._agent import AgentTracer

_F = TypeVar("_F", bound=Callable[..., Any])


@overload
def agent_tracer(func: _F, /) -> _F: ...


@overload
def agent_tracer(name: str | None = None, agent_id: str | None = None) -> Callable[[_F], _F]: ...


def agent_tracer(name: str | Callable[..., Any] | None = None, agent_id: str | None = None) -> Any:
    """Trace every call of the decorated function as one run of an agent.

    Usable bare (`@agent_tracer`) or with arguments (`@agent_tracer("planner")`), on plain
    functions, `async def` functions (the result stays a coroutine function), generators and
    async generators. Each call is an `AgentTracer(name, ...)` whose parent is the agent
    current when the call starts running.

    Args:
        name: the agent's name; default the function's `__name__`.
        agent_id: the id of the first call's run. A run id must be unique in a trace, so
            call n (n >= 2) gets `f"{agent_id}-{n}"`; without it every run gets a uuid4.

    Returns:
        The wrapped function (with `functools.wraps`), or a decorator when given arguments.
    """
    if callable(name):
        return _decorate(name, None, None)

    def decorate(func: _F) -> _F:
        return _decorate(func, name, agent_id)

    return decorate


class _RunIds:
    """The agent_id of each call: the given one first, then numbered; None without one."""

    def __init__(self, agent_id: str | None) -> None:
        self._agent_id = agent_id
        self._calls = itertools.count(1)

    def next(self) -> str | None:
        if self._agent_id is None:
            return None
        call = next(self._calls)
        return self._agent_id if call == 1 else f"{self._agent_id}-{call}"


def _decorate(func: _F, name: str | None, agent_id: str | None) -> _F:
    agent_name = name or getattr(func, "__name__", None) or "agent"
    run_ids = _RunIds(agent_id)

    def new_tracer() -> AgentTracer:
        return AgentTracer(agent_name, run_ids.next())

    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(func):
        wrapper = _async_generator_wrapper(func, new_tracer)
    elif inspect.isgeneratorfunction(func):

        def generator_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            return (yield from _traced_generator(new_tracer(), func(*args, **kwargs)))

        wrapper = generator_wrapper
    elif inspect.iscoroutinefunction(func):

        async def coroutine_wrapper(*args: Any, **kwargs: Any) -> Any:
            async with new_tracer():
                return await func(*args, **kwargs)

        wrapper = coroutine_wrapper
    else:

        def function_wrapper(*args: Any, **kwargs: Any) -> Any:
            with new_tracer():
                return func(*args, **kwargs)

        wrapper = function_wrapper
    return functools.wraps(func)(wrapper)  # type: ignore[return-value]


def _traced_generator(
    tracer: AgentTracer, generator: Generator[Any, Any, Any]
) -> Generator[Any, Any, Any]:
    """Drive `generator` with `tracer` current only while it runs, forwarding send(),
    throw() and close() to it; the agent's run ends when the generator does."""
    error: BaseException | None = None
    try:
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            with tracer._running():
                try:
                    item = generator.send(sent) if thrown is None else generator.throw(thrown)
                except StopIteration as stop:
                    return stop.value
            thrown = None
            try:
                sent = yield item
            except GeneratorExit:
                with tracer._running():
                    generator.close()
                raise
            except BaseException as exc:
                thrown = exc
    except BaseException as exc:
        error = exc
        raise
    finally:
        tracer._close(error)


def _async_generator_wrapper(
    func: Callable[..., AsyncGenerator[Any]], new_tracer: Callable[[], AgentTracer]
) -> Callable[..., AsyncGenerator[Any]]:
    """An async generator function that runs `func`'s generator as `_traced_generator` does:
    the agent current only while it runs, asend(), athrow() and aclose() forwarded."""

    async def async_generator_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any]:
        tracer = new_tracer()
        generator = func(*args, **kwargs)
        error: BaseException | None = None
        try:
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                with tracer._running():
                    try:
                        if thrown is None:
                            item = await generator.asend(sent)
                        else:
                            item = await generator.athrow(thrown)
                    except StopAsyncIteration:
                        return
                thrown = None
                try:
                    sent = yield item
                except GeneratorExit:
                    with tracer._running():
                        await generator.aclose()
                    raise
                except BaseException as exc:
                    thrown = exc
        except BaseException as exc:
            error = exc
            raise
        finally:
            tracer._close(error)

    return async_generator_wrapper
