"""`composo mock`: run the local Composo server from the command line until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

_DESCRIPTION = (
    "Serve a local Composo API on loopback: every operation of openapi.yaml, validated like the"
    " service, with synthetic deterministic scores. Prints the base URL on the first line of"
    " stdout."
)


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a probability must lie in [0, 1], got {text}")
    return value


def _milliseconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a latency must be >= 0 ms, got {text}")
    return value / 1000.0


def _rate(text: str) -> tuple[int, float]:
    try:
        requests, seconds = text.split("/")
        limit = (int(requests), float(seconds))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N/SECONDS such as 10/1, got {text}") from None
    if limit[0] < 1 or limit[1] <= 0:
        raise argparse.ArgumentTypeError(f"expected N >= 1 and SECONDS > 0, got {text}")
    return limit


def _retry_after(text: str) -> int | None:
    if text.lower() == "none":
        return None
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"Retry-After must be >= 0 seconds, got {text}")
    return value


def build_parser(prog: str = "composo mock") -> argparse.ArgumentParser:
    """The argument parser of `composo mock`."""
    parser = argparse.ArgumentParser(prog=prog, description=_DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    latency = parser.add_mutually_exclusive_group()
    latency.add_argument(
        "--latency", type=_milliseconds, default=0.0, metavar="MS", help="delay every request"
    )
    latency.add_argument(
        "--latency-range",
        type=_milliseconds,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="delay every request by a uniform draw in [MIN, MAX] ms",
    )
    faults = parser.add_argument_group("injected faults (probability per request)")
    faults.add_argument("--p429", type=_probability, default=0.0, metavar="P")
    faults.add_argument(
        "--retry-after",
        type=_retry_after,
        default=1,
        metavar="S",
        help="Retry-After seconds on injected 429s, or 'none' (default 1)",
    )
    faults.add_argument("--p500", type=_probability, default=0.0, metavar="P")
    faults.add_argument("--p503", type=_probability, default=0.0, metavar="P")
    faults.add_argument("--p524", type=_probability, default=0.0, metavar="P")
    faults.add_argument(
        "--p-drop", type=_probability, default=0.0, metavar="P", help="close without answering"
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate,
        metavar="N/SECONDS",
        help="token bucket per API key, e.g. 10/1; over it: 429 with Retry-After",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accepted key (repeatable); default: any non-empty key",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    from composo._mock._server import AsyncMockServer

    server = AsyncMockServer(
        host=args.host,
        port=args.port,
        latency=args.latency,
        latency_range=tuple(args.latency_range) if args.latency_range else None,
        p429=args.p429,
        retry_after=args.retry_after,
        p500=args.p500,
        p503=args.p503,
        p524=args.p524,
        p_drop=args.p_drop,
        rate_limit=args.rate_limit,
        api_keys=args.api_keys,
        seed=args.seed,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows has no add_signal_handler: Ctrl-C raises KeyboardInterrupt there instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with server:
        print(server.base_url, flush=True)
        print(
            f"Composo mock serving {server.base_url} (synthetic scores); Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()


def run_cli(argv: Sequence[str] | None = None) -> int:
    """Runs `composo mock` with `argv` (default: sys.argv[1:]) until interrupted.

    Returns:
        The exit status: 0 after Ctrl-C / SIGTERM, 2 for bad arguments or a missing extra.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or an argparse error already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        import aiohttp  # noqa: F401
        import jsonschema  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as exc:
        print(
            f"composo mock needs the 'mock' extra ({exc.name} is missing):"
            " pip install 'composo[mock]'",
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:
        print(f"composo mock: {exc}", file=sys.stderr)
        return 1
    return 0
