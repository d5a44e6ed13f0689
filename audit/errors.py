"""One family of user-facing errors: the CLI prints them without a traceback, exit code 2."""

from __future__ import annotations

from pathlib import Path


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


EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2
