"""Every rule's documented examples, run as tests through one harness.

An invalid example marks each line that must be reported with ``# error`` (or
``# error: <column>``); the harness checks the exact set of (line, column), that nothing
else is reported, and that applying the rule's fixes gives exactly ``fixed``, once, stably.
"""
import re

import pytest

from sqlalint.config import Settings
from sqlalint.engine import check_source, fix_source, parses
from sqlalint.rules import ALL_RULES

MARK = re.compile(r"#\s*error(?::\s*(\d+))?\s*$")


def settings_for(rule, example):
    return Settings(select=(rule.code,), **{k.replace("-", "_"): v for k, v in example.settings.items()})


def expected_marks(source):
    marks = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = MARK.search(line)
        if match:
            marks.append((number, int(match.group(1)) if match.group(1) else None))
    return marks


VALID = [pytest.param(rule, example, id=f"{rule.code}-valid-{i}")
         for rule in ALL_RULES for i, example in enumerate(rule.valid)]
INVALID = [pytest.param(rule, example, id=f"{rule.code}-invalid-{i}")
           for rule in ALL_RULES for i, example in enumerate(rule.invalid)]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_is_documented_with_examples(rule):
    doc = rule.documentation()
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead",
                    "## Fix safety", "## Options"):
        assert heading in doc, f"{rule.code} documentation lacks {heading!r}"
    assert rule.valid and rule.invalid, f"{rule.code} needs valid and invalid examples"
    assert rule.triggers, f"{rule.code} declares no byte triggers"


def test_every_rule_and_only_rules_have_triggers():
    from sqlalint.prefilter import TRIGGERS

    assert set(TRIGGERS) == {rule.code for rule in ALL_RULES}


@pytest.mark.parametrize("rule, example", VALID)
def test_valid_example_is_silent(rule, example):
    assert check_source(example.source, "example.py", settings_for(rule, example)) == []


@pytest.mark.parametrize("rule, example", INVALID)
def test_invalid_example_reports_marked_lines(rule, example):
    found = check_source(example.source, "example.py", settings_for(rule, example))
    marks = expected_marks(example.source)
    assert marks, "an invalid example must mark at least one line with # error"
    assert {d.code for d in found} <= {rule.code}
    assert sorted(d.line for d in found) == sorted(line for line, _ in marks)
    columns = {line: column for line, column in marks}
    for d in found:
        if columns[d.line] is not None:
            assert d.column == columns[d.line], f"line {d.line}: column {d.column} != {columns[d.line]}"
        assert d.message and d.path == "example.py"


@pytest.mark.parametrize("rule, example", INVALID)
def test_invalid_example_fix(rule, example):
    settings = settings_for(rule, example)
    result = fix_source(example.source, "example.py", settings, unsafe=True)
    expected = example.fixed if example.fixed is not None else example.source
    assert result.source == expected
    assert not result.rejected
    assert parses(result.source)
    again = fix_source(result.source, "example.py", settings, unsafe=True)
    assert again.source == result.source, "a second fix pass changed the text"
