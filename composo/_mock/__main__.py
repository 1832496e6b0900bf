"""`python -m composo._mock`: the same as `composo mock`."""

from composo._mock._cli import run_cli

raise SystemExit(run_cli())
