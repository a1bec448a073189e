"""``# noqa``, ``# noqa: SLA201`` and ``# sqlalint: ignore[SLA201]`` on the reported line.

A comment anywhere on the logical line that holds the reported line counts, as in flake8.
"""
from __future__ import annotations

import io
import re
import tokenize
from typing import Optional

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*sqlalint:\s*ignore\[(?P<codes>[^\]]*)\]")
_ANY_NOQA = re.compile(r"noqa", re.IGNORECASE)  # `# NOQA` counts too
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)

ALL = "*"


class Suppressions:
    """Which codes are suppressed on which line of one file."""

    def __init__(self, source: str, noqa: bool = True):
        """``noqa=False``: only ``# sqlalint: ignore[...]`` counts (flake8 applies noqa)."""
        self.by_line: dict[int, set[str]] = {}
        if "sqlalint:" not in source and not (noqa and _ANY_NOQA.search(source)):
            return
        comments, logical = self._scan(source)
        for line, text in comments:
            codes = self._codes(text, noqa)
            if codes is None:
                continue
            first, last = logical.get(line, (line, line))
            for number in range(first, last + 1):
                self.by_line.setdefault(number, set()).update(codes)

    @staticmethod
    def _codes(comment: str, noqa: bool = True) -> Optional[set[str]]:
        found: set[str] = set()
        match = _NOQA.search(comment) if noqa else None
        if match:
            found |= {c.upper() for c in _CODE.findall(match.group("codes"))} if match.group("codes") else {ALL}
        for match in _IGNORE.finditer(comment):
            found |= {c.upper() for c in _CODE.findall(match.group("codes"))}
        return found or None

    @staticmethod
    def _scan(source: str) -> tuple[list[tuple[int, str]], dict[int, tuple[int, int]]]:
        """Comments with their lines, and each line's logical-line span."""
        comments: list[tuple[int, str]] = []
        logical: dict[int, tuple[int, int]] = {}
        start = None
        try:
            for token in tokenize.generate_tokens(io.StringIO(source).readline):
                if token.type == tokenize.COMMENT:
                    comments.append((token.start[0], token.string))
                if token.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                    continue
                if start is None:
                    start = token.start[0]
                if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                    end = token.end[0]
                    if end > start:
                        for number in range(start, end + 1):
                            logical[number] = (start, end)
                    start = None
        except (tokenize.TokenError, SyntaxError):
            # Fall back to physical lines: every comment still counts on its own line.
            comments = [(n, line[line.index("#"):]) for n, line in enumerate(source.splitlines(), 1) if "#" in line]
        return comments, logical

    def suppressed(self, line: int, code: str) -> bool:
        codes = self.by_line.get(line)
        if not codes:
            return False
        return ALL in codes or any(code.startswith(c) for c in codes)
