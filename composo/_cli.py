"""The `composo` command: `composo evaluate ...`, `composo compare ...`, `composo cache ...` and
`composo mock ...`."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence

_USAGE = """\
usage: composo <command> [options]

commands:
  evaluate   score a JSONL file of conversations against criteria (composo evaluate -h)
  compare    compare two runs of composo evaluate, criterion by criterion (composo compare -h)
  cache      stats, prune or clear the result cache (composo cache -h)
  mock       run the local Composo mock server (composo mock -h)
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `composo` command line; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(_USAGE, end="", file=sys.stderr)
        return 2
    if args[0] in {"-h", "--help"}:
        print(_USAGE, end="")
        return 0
    if args[0] in {"-V", "--version"}:
        from composo._version import __version__

        print(f"composo {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command == "evaluate":
        from composo._cli_evaluate import run

        return run(rest)
    if command == "compare":
        from composo._cli_compare import run as run_compare

        return run_compare(rest)
    if command == "cache":
        from composo._cli_cache import run as run_cache

        return run_cache(rest)
    if command == "mock":
        try:
            from composo._mock._cli import run_cli
        except ImportError as exc:
            print(f"composo mock needs the mock extra: pip install 'composo[mock]' ({exc})")
            return 2
        return run_cli(rest)
    print(f"composo: unknown command {_shown(command)}\n\n{_USAGE}", end="", file=sys.stderr)
    return 2


def _shown(command: str) -> str:
    """An unknown command as the error shows it: quoted when it is a word, as commands are;
    otherwise not at all, since it may be a secret (`composo --api-key=sk-... evaluate`)."""
    if command.isascii() and command.isalpha() and len(command) <= 20:
        close = difflib.get_close_matches(command, ("evaluate", "compare", "mock"), n=1)
        return repr(command) + (f" (did you mean {close[0]}?)" if close else "")
    return "(not shown, in case it is a secret)"


if __name__ == "__main__":
    sys.exit(main())
