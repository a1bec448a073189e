"""The engine with crafted rules: overlapping fixes, re-lint until stable, a fix whose result
does not parse, a rule that crashes (reported with file and rule; the run goes on, exit 2)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import libcst as cst
import pytest
from click.testing import CliRunner

from sqlalint import engine, prefilter
from sqlalint.cli import cli
from sqlalint.config import Settings
from sqlalint.engine import ResolvedFix, apply_fixes, fix_source, lint_source
from sqlalint.rule import Applicability, Edit, Fix, Report, Rule
from sqlalint.runner import Mode, process_file, run

SAFE = Applicability.SAFE


def names(ctx, wanted: str) -> list[cst.Name]:
    """Every Name node spelled ``wanted`` (a test rule may walk; real rules query the model)."""
    found: list[cst.Name] = []

    class Visitor(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            if node.value == wanted:
                found.append(node)

    ctx.tree.visit(Visitor())
    return found


class Rename(Rule):
    """Renames a1 -> a2 -> a3: each fix makes the next one appear (re-lint until stable)."""

    code = "SLA901"
    name = "rename"
    summary = "test"
    triggers = (b"a1", b"a2")
    fixable = SAFE

    def check(self, ctx) -> Iterator[Report]:
        for old, new in (("a1", "a2"), ("a2", "a3")):
            for node in names(ctx, old):
                yield Report(node, f"{old} is old", Fix(f"use {new}", SAFE, [(node, node.with_changes(value=new))]))


class Breaks(Rule):
    """Offers a fix that does not parse, and a good one elsewhere."""

    code = "SLA902"
    name = "breaks"
    summary = "test"
    triggers = (b"broken", b"fine")
    fixable = SAFE

    def check(self, ctx) -> Iterator[Report]:
        for node in names(ctx, "broken"):
            start = ctx.source.index("broken")
            yield Report(node, "breaks", Fix("break it", SAFE, edits=[Edit(start, start + 6, "broken(")]))
        for node in names(ctx, "fine"):
            yield Report(node, "fine", Fix("rename", SAFE, [(node, node.with_changes(value="good"))]))


class Crashes(Rule):
    code = "SLA903"
    name = "crashes"
    summary = "test"
    triggers = (b"boom",)

    def check(self, ctx) -> Iterator[Report]:
        if names(ctx, "boom"):
            raise ValueError("rule bug")
        return iter(())


class Unsafe(Rule):
    code = "SLA904"
    name = "unsafe"
    summary = "test"
    triggers = (b"risky",)
    fixable = Applicability.UNSAFE

    def check(self, ctx) -> Iterator[Report]:
        for node in names(ctx, "risky"):
            yield Report(node, "risky", Fix("rename", Applicability.UNSAFE, [(node, node.with_changes(value="ok"))]))
        for node in names(ctx, "shown"):
            yield Report(node, "shown", Fix("rename", Applicability.DISPLAY_ONLY,
                                            [(node, node.with_changes(value="gone"))]))


@pytest.fixture
def crafted(monkeypatch):
    rules = [Rename(), Breaks(), Crashes(), Unsafe()]
    monkeypatch.setattr(engine, "ALL_RULES", rules)
    # The runner decides which files can match from the triggers, before importing rules.
    monkeypatch.setattr(prefilter, "TRIGGERS", {rule.code: rule.triggers for rule in rules})
    return rules


def fix(start: int, end: int, content: str = "X") -> ResolvedFix:
    return ResolvedFix("m", SAFE, (Edit(start, end, content),))


def test_apply_fixes_skips_overlapping_fixes():
    text, chosen = apply_fixes("0123456789", [fix(3, 8, "B"), fix(0, 5, "A"), fix(8, 9, "C")])
    assert text == "A567C9"
    assert [f.edits[0].content for f in chosen] == ["A", "C"]


def test_apply_fixes_two_insertions_at_one_place_apply_once():
    text, chosen = apply_fixes("ab", [fix(1, 1, "X"), fix(1, 1, "Y")])
    assert text == "aXb" and len(chosen) == 1


def test_relint_until_stable(crafted):
    source = "import sqlalchemy\na1 = 1\nprint(a1)  # keep\n"
    outcome = fix_source(source, "t.py")
    assert outcome.source == "import sqlalchemy\na3 = 1\nprint(a3)  # keep\n"
    assert outcome.applied == 4
    assert outcome.result.diagnostics == []
    again = fix_source(outcome.source, "t.py")
    assert (again.source, again.applied) == (outcome.source, 0)


def test_a_fix_that_does_not_parse_is_not_applied_and_is_reported(crafted):
    source = "import sqlalchemy\nbroken = 1\nfine = 2\n"
    outcome = fix_source(source, "t.py")
    assert outcome.source == "import sqlalchemy\nbroken = 1\ngood = 2\n"
    assert outcome.rejected == ["t.py:2:1: SLA902: fix not applied: the result would not parse"]
    assert [(d.code, d.line, d.message) for d in outcome.result.diagnostics] == [("SLA902", 2, "breaks")]
    assert engine.parses(outcome.source)


def test_unsafe_and_display_only(crafted):
    source = "import sqlalchemy\nrisky = 1\nshown = 2\n"
    assert fix_source(source, "t.py").source == source
    assert fix_source(source, "t.py", unsafe=True).source == "import sqlalchemy\nok = 1\nshown = 2\n"


def test_rule_crash_is_reported_with_file_and_rule(crafted):
    result = lint_source("import sqlalchemy\nboom = 1\na1 = 2\n", "t.py")
    [error] = result.errors
    assert (error.path, error.code) == ("t.py", "SLA903")
    assert error.message.startswith("ValueError: rule bug (")
    # The other rules still ran on that file.
    assert [d.code for d in result.diagnostics] == ["SLA901"]
    with pytest.raises(engine.RuleCrash, match="t.py: SLA903: ValueError: rule bug"):
        engine.check_source("import sqlalchemy\nboom = 1\n", "t.py")


def test_rule_crash_in_a_run_other_files_still_linted(crafted, tmp_path):
    (tmp_path / "a.py").write_text("import sqlalchemy\nboom = 1\n")
    (tmp_path / "b.py").write_text("import sqlalchemy\na1 = 1\n")
    settings = Settings(root=tmp_path)
    reports = run([tmp_path / "a.py", tmp_path / "b.py"], settings)
    assert [e.code for e in reports[0].errors] == ["SLA903"]
    assert [(d.code, d.line) for d in reports[1].diagnostics] == [("SLA901", 2)]
    # --fix on a file where a rule crashes writes nothing.
    report = process_file(tmp_path / "a.py", settings, Mode.FIX, True)
    assert report.errors and report.fixed == 0
    assert (tmp_path / "a.py").read_text() == "import sqlalchemy\nboom = 1\n"


def test_rule_crash_exits_2_through_the_cli(crafted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("a.py").write_text("import sqlalchemy\nboom = 1\n")
    Path("b.py").write_text("import sqlalchemy\na1 = 1\n")
    result = CliRunner().invoke(cli, ["check", "--isolated", "a.py", "b.py"])
    assert result.exit_code == 2
    assert "b.py:2:1: SLA901 a1 is old [*]" in result.stdout
    assert ("sqlalint: internal error in rule SLA903 on a.py: ValueError: rule bug" in result.stderr)
    assert "Traceback" not in result.stderr


def test_parse_error_location_and_message():
    settings = Settings(select=("SLA201",))
    source = ("import functools\nfrom sqlalchemy.orm import Session\n"
              "@functools.cache\ndef get_session(:\n    return Session()\n")
    [d] = lint_source(source, "t.py", settings).diagnostics
    assert (d.code, d.line, d.column, d.message) == ("SLA001", 4, 17, "syntax error: invalid syntax")


def test_files_without_triggers_are_not_parsed():
    # A syntax error in a file that cannot hold a finding is the compiler's business.
    assert lint_source("def f(:\n", "t.py").diagnostics == []


def test_analysis_parses_without_node_validation_and_restores_it(monkeypatch):
    checked: list[str] = []
    monkeypatch.setattr(cst.Name, "_validate", lambda self: checked.append(self.value))
    tree = engine.parse_unvalidated("total = count + 1\n")
    assert tree.code == "total = count + 1\n" and checked == []
    cst.parse_module("total = count + 1\n")
    assert checked == ["total", "count"]
    with pytest.raises(cst.ParserSyntaxError):
        engine.parse_unvalidated("total = (\n")
    cst.Name("again")  # built by a rule or a fix: validated, also after a failed parse
    assert checked == ["total", "count", "again"]
