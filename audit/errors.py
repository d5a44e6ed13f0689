"""One family of user-facing errors: the CLI prints them without a traceback, exit code 2."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class UserError(Exception):
    """Bad input (config, prompt file, image, path, option).

    The message names the file, the field and the fix, so a user can act on it
    without reading a traceback.
    """

    exit_code = 2

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.field = field
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.field:
            where.append(f"field '{self.field}'")
        text = ": ".join(where + [self.problem]) if where else self.problem
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


_FIXES = {
    "extra_forbidden": "remove this field (see README's spec reference for the valid fields)",
    "missing": "add this field",
}


def error_from_validation(
    exc: ValidationError, *, file: str | Path, prefix: str = "", fix: str | None = None
) -> UserError:
    """The first problem pydantic found, as a UserError naming file, field and fix.

    The one place a ValidationError becomes a user-facing error (spec, scorer options,
    gate files), so every input file reports problems the same way.
    """
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"])
    field = ".".join(p for p in (prefix, loc) if p) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if len(errors) > 1:
        more = len(errors) - 1
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    default_fix = _FIXES.get(first["type"], "correct the value as the message says")
    return UserError(message, file=file, field=field, fix=fix or default_fix)


EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2
