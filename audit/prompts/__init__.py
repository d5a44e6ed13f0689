"""Prompt suites: the records every other module sees, built-in suites and importers."""

from audit.prompts.builtin import BUILTIN_DIR, builtin_suite_names
from audit.prompts.loader import FORMATS, describe, detect_format, list_suites, load_suite
from audit.prompts.model import (
    SAFE_ID,
    Expectations,
    ObjectExpectation,
    Prompt,
    PromptSuite,
)

__all__ = [
    "BUILTIN_DIR",
    "FORMATS",
    "SAFE_ID",
    "Expectations",
    "ObjectExpectation",
    "Prompt",
    "PromptSuite",
    "builtin_suite_names",
    "describe",
    "detect_format",
    "list_suites",
    "load_suite",
]
