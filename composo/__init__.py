"""Composo: score LLM conversations and agent traces against natural-language criteria."""

from composo._version import __version__

__all__ = ["__version__"]
