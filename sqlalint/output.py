"""Output formats. Each takes the file reports and returns the text to print."""
from __future__ import annotations

import json
from collections import Counter
from typing import Callable, Sequence

import click

from sqlalint.context import LineIndex
from sqlalint.engine import Diagnostic, applicable
from sqlalint.rule import Applicability
from sqlalint.runner import FileReport

DOCS_URL = "https://github.com/sqlalint/sqlalint/blob/main/docs/rules.md#{code}"


def rule_url(code: str) -> str:
    return DOCS_URL.format(code=code.lower())


def all_diagnostics(reports: Sequence[FileReport]) -> list[tuple[FileReport, Diagnostic]]:
    return [(report, d) for report in reports for d in report.diagnostics]


def format_text(reports: Sequence[FileReport], *, unsafe: bool, color: bool, fixed: int = 0,
                show_summary: bool = True) -> str:
    out = []
    pairs = all_diagnostics(reports)
    for _, d in pairs:
        location = click.style(d.path, bold=True, fg=None) if color else d.path
        code = click.style(d.code, fg="red", bold=True) if color else d.code
        mark = " [*]" if applicable(d, unsafe) else ""
        out.append(f"{location}:{d.line}:{d.column}: {code} {d.message}{mark}")
    if not show_summary:
        return "\n".join(out) + ("\n" if out else "")
    count = len(pairs)
    if count:
        noun = "error" if count == 1 else "errors"
        out.append(f"Found {count} {noun}" + (f" ({fixed} fixed, {count} remaining)." if fixed else "."))
        fixable = sum(1 for _, d in pairs if applicable(d, unsafe))
        hidden = sum(1 for _, d in pairs if not applicable(d, unsafe) and applicable(d, True))
        if fixable:
            out.append(f"[*] {fixable} fixable with the `--fix` option.")
        if hidden:
            out.append(f"{hidden} hidden fixes can be enabled with the `--unsafe-fixes` option.")
    elif fixed:
        out.append(f"Found {fixed} error{'s' if fixed != 1 else ''} ({fixed} fixed, 0 remaining).")
    else:
        out.append("All checks passed!")
    return "\n".join(out) + "\n"


def _location(lines: LineIndex | None, offset: int) -> dict:
    if lines is None:
        return {"row": 1, "column": 1}
    line, column = lines.position(offset)
    return {"row": line, "column": column + 1}


def diagnostic_json(report: FileReport, d: Diagnostic) -> dict:
    lines = LineIndex(report.text) if report.text is not None and d.fix is not None else None
    fix = None
    if d.fix is not None:
        fix = {
            "applicability": d.fix.applicability.value,
            "message": d.fix.message,
            "edits": [{"content": e.content, "location": _location(lines, e.start),
                       "end_location": _location(lines, e.end)} for e in d.fix.edits],
        }
    return {
        "code": d.code,
        "message": d.message,
        "filename": d.path,
        "location": {"row": d.line, "column": d.column},
        "end_location": {"row": d.end_line, "column": d.end_column},
        "fix": fix,
        "url": rule_url(d.code),
        "noqa_row": d.noqa_row,
    }


def format_json(reports: Sequence[FileReport], **_: object) -> str:
    items = [diagnostic_json(report, d) for report, d in all_diagnostics(reports)]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def format_statistics(reports: Sequence[FileReport], *, unsafe: bool, **_: object) -> str:
    counts = Counter(d.code for _, d in all_diagnostics(reports))
    names = {d.code: d.name for _, d in all_diagnostics(reports)}
    fixable = Counter(d.code for _, d in all_diagnostics(reports) if applicable(d, unsafe))
    lines = []
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        mark = "[*]" if fixable[code] == count else "[-]" if fixable[code] else "   "
        lines.append(f"{count:5d}\t{code}\t{mark} {names.get(code, '')}")
    return "\n".join(lines) + ("\n" if lines else "")


FORMATS: dict[str, Callable[..., str]] = {
    "text": format_text,
    "json": format_json,
}

__all__ = ["FORMATS", "Applicability", "format_statistics", "rule_url"]
