"""What a run reports: findings, their resolved fixes, internal errors.

Plain data, no libcst: output formats and the result cache use these without importing
the parser (a fully cached run never does). :mod:`sqlalint.engine` and
:mod:`sqlalint.rule` re-export them.
"""
from __future__ import annotations

import enum
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Optional

# Findings about the file itself rather than its code: always reported, never selectable.
PARSE_ERROR = "SLA001"


class Applicability(str, enum.Enum):
    """How far a fix can be trusted (ruff's terms)."""

    SAFE = "safe"  # keeps runtime meaning: applied by --fix
    UNSAFE = "unsafe"  # changes behaviour; applied only with --unsafe-fixes
    DISPLAY_ONLY = "display-only"  # shown, never applied


@dataclass(frozen=True)
class Edit:
    """Replace ``source[start:end]`` (character offsets) with ``content``."""

    start: int
    end: int
    content: str


@dataclass(frozen=True)
class ResolvedFix:
    message: str
    applicability: Applicability
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    path: str
    line: int  # 1-based
    column: int  # 1-based, in characters
    end_line: int
    end_column: int
    fix: Optional[ResolvedFix] = None
    name: str = ""

    @property
    def noqa_row(self) -> int:
        return self.line


@dataclass(frozen=True)
class InternalError:
    """A rule raised on a file: reported with the file and the rule; exit code 2."""

    path: str
    code: str
    message: str


def parse_error(path: str, line: int, column: int, message: str) -> Diagnostic:
    return Diagnostic(PARSE_ERROR, message, path, line, column, line, column, name="parse-error")


def applicable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    if fix is None or not fix.edits:
        return False
    return fix.applicability is Applicability.SAFE or (unsafe and fix.applicability is Applicability.UNSAFE)


_NEWLINE = re.compile(r"\r\n|\r|\n")


class LineIndex:
    """Converts between (line, column) and character offsets, with libcst's line breaks."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]

    def offset(self, line: int, column: int) -> int:
        """``line`` is 1-based, ``column`` 0-based characters."""
        return self.starts[line - 1] + column

    def position(self, offset: int) -> tuple[int, int]:
        """(1-based line, 0-based column) of a character offset."""
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1]
