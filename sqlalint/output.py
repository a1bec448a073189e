"""Output formats. Each takes the file reports and returns the text to print."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Callable, Optional, Sequence

import click

from sqlalint.diagnostics import PARSE_ERROR, Applicability, Diagnostic, LineIndex, applicable
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


def _location(lines: Optional[LineIndex], offset: int) -> dict:
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


# -- CI formats: GitHub workflow annotations, SARIF 2.1.0, JUnit XML ---------------------

def _github_data(text: str) -> str:
    # GitHub's escaping (actions/toolkit, command.ts): data escapes %, \r, \n ...
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    # ... and a property value also escapes the separators ":" and ",".
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(reports: Sequence[FileReport], **_: object) -> str:
    """One workflow annotation per finding: ``::warning file=...,line=...::message``."""
    out = []
    for _, d in all_diagnostics(reports):
        level = "error" if d.code == PARSE_ERROR else "warning"
        properties = {"file": Path(d.path).as_posix(), "line": d.line, "col": d.column,
                      "endLine": d.end_line, "endColumn": d.end_column, "title": d.code}
        fields = ",".join(f"{key}={_github_property(str(value))}" for key, value in properties.items())
        out.append(f"::{level} {fields}::{_github_data(d.message)}")
    return "".join(line + "\n" for line in out)


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"


def _sarif_rules() -> list[dict]:
    from sqlalint.rules import ALL_RULES

    rules = [{"id": PARSE_ERROR, "name": "parse-error",
              "shortDescription": {"text": "the file cannot be read, decoded or parsed"},
              "fullDescription": {"text": "sqlalint could not read, decode or parse this file, so it was "
                                          "not analysed."},
              "defaultConfiguration": {"level": "error"}}]
    for rule in ALL_RULES:
        docs = rule.documentation()
        what = docs.split("## What it does", 1)[-1].split("\n## ", 1)[0].strip() or rule.summary
        rules.append({"id": rule.code, "name": rule.name, "shortDescription": {"text": rule.summary},
                      "fullDescription": {"text": " ".join(what.split())},
                      "help": {"text": docs, "markdown": docs}, "helpUri": rule_url(rule.code),
                      "defaultConfiguration": {"level": "warning"},
                      "properties": {"fix": rule.fixable.value if rule.fixable else "none"}})
    return rules


def _artifact(path: str) -> dict:
    posix = Path(path).as_posix()
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    from urllib.parse import quote

    return {"uri": quote(posix), "uriBaseId": SRCROOT}


def _region(lines: LineIndex, start: int, end: int) -> dict:
    start_line, start_column = lines.position(start)
    end_line, end_column = lines.position(end)
    return {"startLine": start_line, "startColumn": start_column + 1,
            "endLine": end_line, "endColumn": end_column + 1}


def _sarif_result(report: FileReport, d: Diagnostic, rule_index: dict[str, int]) -> dict:
    result: dict = {
        "ruleId": d.code,
        "level": "error" if d.code == PARSE_ERROR else "warning",
        "message": {"text": d.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": _artifact(d.path),
            "region": {"startLine": d.line, "startColumn": d.column,
                       "endLine": d.end_line, "endColumn": max(d.end_column, 1)}}}],
    }
    if d.code in rule_index:
        result["ruleIndex"] = rule_index[d.code]
    if d.fix is not None and d.fix.edits and report.text is not None:
        lines = LineIndex(report.text)
        result["fixes"] = [{
            "description": {"text": d.fix.message},
            "artifactChanges": [{"artifactLocation": _artifact(d.path), "replacements": [
                {"deletedRegion": _region(lines, e.start, e.end), "insertedContent": {"text": e.content}}
                for e in d.fix.edits]}],
            "properties": {"applicability": d.fix.applicability.value},
        }]
    return result


def format_sarif(reports: Sequence[FileReport], **_: object) -> str:
    """SARIF 2.1.0 for code scanning: the rules' metadata, the findings and their fixes."""
    from sqlalint import __version__

    rules = _sarif_rules()
    rule_index = {rule["id"]: i for i, rule in enumerate(rules)}
    notifications = [{"level": "error", "message": {"text": f"internal error in rule {e.code}: {e.message}"},
                      "descriptor": {"id": e.code},
                      "locations": [{"physicalLocation": {"artifactLocation": _artifact(e.path)}}]}
                     for report in reports for e in report.errors]
    run = {
        "tool": {"driver": {"name": "sqlalint", "version": __version__, "semanticVersion": __version__,
                            "informationUri": "https://github.com/sqlalint/sqlalint", "rules": rules}},
        "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
        # Diagnostic columns count characters (code points), not UTF-16 units.
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}],
        "results": [_sarif_result(report, d, rule_index) for report, d in all_diagnostics(reports)],
    }
    document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# Characters XML 1.0 cannot hold, even escaped (compiled on first use: start-up).
_NOT_XML = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def _xml_text(text: str) -> str:
    return re.sub(_NOT_XML, "\ufffd", text)


def format_junit(reports: Sequence[FileReport], **_: object) -> str:
    """JUnit XML: one test case per checked file, one failure per finding in it."""
    from xml.etree import ElementTree

    failing = sum(1 for r in reports if r.diagnostics)
    errors = sum(1 for r in reports if r.errors)
    counts = {"tests": str(len(reports)), "failures": str(failing), "errors": str(errors)}
    suites = ElementTree.Element("testsuites", {"name": "sqlalint", **counts})
    suite = ElementTree.SubElement(suites, "testsuite", {"name": "sqlalint", **counts})
    for report in reports:
        case = ElementTree.SubElement(suite, "testcase", {
            "name": _xml_text(report.path), "classname": "sqlalint", "file": _xml_text(report.path)})
        for d in report.diagnostics:
            failure = ElementTree.SubElement(case, "failure", {"type": d.code, "message": _xml_text(
                f"{d.code} {d.message}")})
            failure.text = _xml_text(f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}")
        for e in report.errors:
            error = ElementTree.SubElement(case, "error", {"type": e.code, "message": _xml_text(
                f"internal error in rule {e.code}")})
            error.text = _xml_text(e.message)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


FORMATS: dict[str, Callable[..., str]] = {
    "text": format_text,
    "json": format_json,
    "github": format_github,
    "sarif": format_sarif,
    "junit": format_junit,
}

__all__ = ["FORMATS", "Applicability", "format_statistics", "rule_url"]
