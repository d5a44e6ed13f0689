"""Prompt suites: the records every other module sees, built-in suites and importers."""

from audit.prompts.builtin import BUILTIN_DIR, builtin_suite_names
from audit.prompts.loader import (
    FORMATS,
    describe,
    detect_format,
    format_note,
    list_suites,
    load_suite,
    sniff_format,
    suite_formats,
)
from audit.prompts.model import (
    SAFE_ID,
    Expectations,
    ObjectExpectation,
    Prompt,
    PromptFormat,
    PromptSuite,
    Question,
    SuiteRef,
)
from audit.prompts.quotes import quoted_phrases, quoted_words

__all__ = [
    "BUILTIN_DIR",
    "FORMATS",
    "SAFE_ID",
    "Expectations",
    "ObjectExpectation",
    "Prompt",
    "PromptFormat",
    "PromptSuite",
    "Question",
    "SuiteRef",
    "builtin_suite_names",
    "describe",
    "detect_format",
    "format_note",
    "list_suites",
    "load_suite",
    "quoted_phrases",
    "quoted_words",
    "sniff_format",
    "suite_formats",
]
