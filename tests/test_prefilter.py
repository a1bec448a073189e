"""The stdlib-ast prefilter never drops a file a rule reports on."""
from __future__ import annotations

from pathlib import Path

import pytest

from sqlalint import prefilter
from sqlalint.config import Settings
from sqlalint.engine import check_source
from sqlalint.rules import ALL_RULES

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"
INVALID = [(rule, number, example) for rule in ALL_RULES for number, example in enumerate(rule.invalid)]


def _condition(rule):
    return getattr(rule, "could_match", None) or prefilter.NECESSARY.get(rule.code)


def _project(settings: dict) -> frozenset:
    names = [*settings.get("session-factories", ()), *settings.get("engine-factories", ())]
    return frozenset(n.rpartition(".")[2] for n in names)


@pytest.mark.parametrize("rule,number,example", INVALID, ids=[f"{r.code}-{n}" for r, n, _ in INVALID])
def test_invalid_examples_pass_their_rule_condition(rule, number, example):
    condition = _condition(rule)
    facts = prefilter.facts_of(example.source)
    assert facts is None or condition is None or condition(facts, _project(example.settings))


@pytest.mark.skipif(not CASES.is_dir(), reason="../shared/cases is not beside the checkout")
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("*.py")) if CASES.is_dir() else [])
def test_every_labelled_case_passes(case):
    source = (CASES / case).read_text(encoding="utf-8")
    assert prefilter.could_match(source, ALL_RULES, frozenset())


@pytest.mark.skipif(not CASES.is_dir(), reason="../shared/cases is not beside the checkout")
def test_same_findings_with_and_without_prefilter(monkeypatch):
    sources = {p.name: p.read_text(encoding="utf-8") for p in sorted(CASES.glob("*.py"))}
    settings = Settings(root=CASES)
    with_filter = {name: check_source(text, name, settings) for name, text in sources.items()}
    monkeypatch.setenv("SQLALINT_NO_PREFILTER", "1")
    without = {name: check_source(text, name, settings) for name, text in sources.items()}
    assert with_filter == without


def test_facts():
    facts = prefilter.facts_of(
        "from sqlalchemy.orm import sessionmaker as sm\n"
        "def f(q):\n"
        "    for row in q.execute(x):\n"
        "        print(len(row.all()), key=1)\n")
    assert {"sessionmaker", "sm", "sqlalchemy", "orm", "f", "q", "row", "key"} <= facts.names
    assert facts.called_attrs == {"execute", "all"}
    assert facts.called_names == {"print", "len"}
    assert facts.iterates_call


def test_unparseable_by_ast_always_passes():
    assert prefilter.facts_of("def (:\n") is None
    assert prefilter.could_match("def (:\n", ALL_RULES, frozenset())


def test_file_without_any_condition_is_skipped():
    # Names sessions only in a comment and a string: no rule with a condition can match.
    rules = [r for r in ALL_RULES if r.code in ("SLA202", "SLA204", "SLA301")]
    assert not prefilter.could_match("# Session\nimport sqlalchemy\nx = 'session'\n", rules, frozenset())
    assert prefilter.could_match("from sqlalchemy.orm import Session\ns = Session()\n", rules, frozenset())
