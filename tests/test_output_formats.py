"""The CI output formats (github, sarif, junit) and the progress bar, through the real CLI."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

from conftest import SHARED, run_cli
from sqlalint.engine import Diagnostic
from sqlalint.output import format_github
from sqlalint.runner import FileReport

LEGACY = "from sqlalchemy.ext.declarative import declarative_base\n\nBase = declarative_base()\n"
FIXED = "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n"
CACHED = """\
import functools

from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


@functools.lru_cache(maxsize=None)
def get_session():
    return SessionLocal()
"""
CLEAN = "from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker()\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "models.py").write_text(LEGACY)
    (tmp_path / "pkg" / "db.py").write_text(CACHED)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    # A syntax error where a rule could match (create_engine in a function): parsed, so reported.
    (tmp_path / "pkg" / "broken.py").write_text(
        "from sqlalchemy import create_engine\n\ndef f(:\n    return create_engine(url)\n")
    return tmp_path


def check(project: Path, output_format: str) -> str:
    code, out, err = run_cli("check", "--isolated", "--output-format", output_format, "pkg",
                             cwd=project)
    assert code == 1, err
    return out


# -- github ------------------------------------------------------------------------------

def test_github_annotations(project):
    lines = check(project, "github").splitlines()
    messages = {d["code"]: d["message"] for d in json.loads(check(project, "json"))}
    assert lines[0].startswith("::error file=pkg/broken.py,line=3,")
    assert lines[1:] == [
        "::warning file=pkg/db.py,line=8,col=1,endLine=8,endColumn=35,title=SLA201::" + messages["SLA201"],
        "::warning file=pkg/models.py,line=1,col=1,endLine=1,endColumn=56,title=SLA502::"
        "`declarative_base` moved to `sqlalchemy.orm` in SQLAlchemy 1.4; `sqlalchemy.ext.declarative` is a "
        "deprecated alias: import it from `sqlalchemy.orm`",
    ]
    assert "`SessionLocal` is a sessionmaker, pkg/db.py:5" in messages["SLA201"]


def test_github_escaping():
    message = "100% sure:\nline two, \r done"
    report = FileReport("odd,dir:x/a%b.py", [Diagnostic("SLA201", message, "odd,dir:x/a%b.py", 2, 3, 4, 5)])
    assert format_github([report]) == (
        "::warning file=odd%2Cdir%3Ax/a%25b.py,line=2,col=3,endLine=4,endColumn=5,title=SLA201::"
        "100%25 sure:%0Aline two, %0D done\n")


# -- sarif -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sarif_schema() -> dict:
    return json.loads((SHARED / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def apply_replacements(text: str, replacements: list[dict]) -> str:
    """Apply SARIF replacements (1-based lines, code point columns, end exclusive)."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    spans = []
    for r in replacements:
        region = r["deletedRegion"]
        spans.append((offset(region["startLine"], region["startColumn"]),
                      offset(region["endLine"], region["endColumn"]), r["insertedContent"]["text"]))
    for start, end, content in sorted(spans, reverse=True):
        text = text[:start] + content + text[end:]
    return text


def test_sarif_validates_and_carries_rules_results_and_fixes(project, sarif_schema):
    document = json.loads(check(project, "sarif"))
    jsonschema.validate(document, sarif_schema)
    run = document["runs"][0]
    assert document["version"] == "2.1.0"
    rules = run["tool"]["driver"]["rules"]
    _, listed, _ = run_cli("rules", "--output-format", "json")
    assert {r["id"] for r in rules} == {r["code"] for r in json.loads(listed)} | {"SLA001"}
    cached = next(r for r in rules if r["id"] == "SLA201")
    assert cached["name"] == "cached-session"
    assert cached["shortDescription"]["text"]
    assert cached["fullDescription"]["text"].startswith("Checks for `functools.lru_cache`")
    assert "## Why is this bad?" in cached["help"]["markdown"]
    assert cached["helpUri"].endswith("#sla201")

    results = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]): r
               for r in run["results"]}
    assert set(results) == {("SLA001", "pkg/broken.py"), ("SLA201", "pkg/db.py"), ("SLA502", "pkg/models.py")}
    legacy = results["SLA502", "pkg/models.py"]
    assert rules[legacy["ruleIndex"]]["id"] == "SLA502"
    assert legacy["level"] == "warning"
    assert legacy["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    assert legacy["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 56}
    (fix,) = legacy["fixes"]
    assert fix["properties"]["applicability"] == "safe"
    (change,) = fix["artifactChanges"]
    assert apply_replacements(LEGACY, change["replacements"]) == FIXED
    # The unsafe fix of SLA201 is offered too (for review), and removes the decorator.
    (cached_fix,) = results["SLA201", "pkg/db.py"]["fixes"]
    assert cached_fix["properties"]["applicability"] == "unsafe"
    assert "lru_cache" not in apply_replacements(CACHED, cached_fix["artifactChanges"][0]["replacements"])


def test_sarif_without_findings_validates(tmp_path, sarif_schema):
    (tmp_path / "clean.py").write_text(CLEAN)
    code, out, err = run_cli("check", "--isolated", "--output-format", "sarif", "clean.py", cwd=tmp_path)
    assert code == 0, err
    document = json.loads(out)
    jsonschema.validate(document, sarif_schema)
    assert document["runs"][0]["results"] == []


# -- junit -------------------------------------------------------------------------------

def test_junit_one_test_case_per_file(project):
    root = ElementTree.fromstring(check(project, "junit").encode("utf-8"))
    suite = root.find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"pkg/broken.py", "pkg/clean.py", "pkg/db.py", "pkg/models.py"}
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "3", "0")
    assert cases["pkg/clean.py"].findall("failure") == []
    (failure,) = cases["pkg/models.py"].findall("failure")
    assert failure.get("type") == "SLA502"
    assert failure.text.startswith("pkg/models.py:1:1: SLA502 `declarative_base` moved")
    assert [f.get("type") for f in cases["pkg/db.py"].findall("failure")] == ["SLA201"]


# -- progress bar ------------------------------------------------------------------------

def run_with_terminal_stderr(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe): exit code, stdout, stderr."""
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.Popen([sys.executable, "-m", "sqlalint", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=terminal, env=env)
    os.close(terminal)
    err = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read()
    code = proc.wait(timeout=300)
    os.close(controller)
    return code, out.decode(), err.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def many_files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("many")
    for number in range(210):
        (root / f"m{number:03d}.py").write_text(f"VALUE = {number}\n")
    (root / "m000.py").write_text(LEGACY)
    return root


def test_progress_bar_on_a_terminal_for_large_runs(many_files):
    code, out, err = run_with_terminal_stderr("check", "--isolated", ".", cwd=many_files)
    assert code == 1
    assert "Checking" in err and "210/210" in err
    assert "Checking" not in out and out.startswith("m000.py:1:1: SLA502")


@pytest.mark.parametrize("output_format", ["json", "github", "sarif", "junit"])
def test_no_progress_bar_for_machine_formats(many_files, output_format):
    code, out, err = run_with_terminal_stderr("check", "--isolated", "--output-format",
                                              output_format, ".", cwd=many_files)
    assert code == 1
    assert "Checking" not in err


def test_no_progress_bar_when_stderr_is_not_a_terminal(many_files):
    code, out, err = run_cli("check", "--isolated", ".", cwd=many_files)
    assert code == 1
    assert "Checking" not in err


def test_no_progress_bar_for_small_runs(tmp_path):
    (tmp_path / "models.py").write_text(LEGACY)
    code, out, err = run_with_terminal_stderr("check", "--isolated", "models.py", cwd=tmp_path)
    assert code == 1
    assert err == ""
