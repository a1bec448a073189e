"""bounded.may_report: the functions SLA301 certainly stays silent in, decided on ast. It may
only say False where the rule reports nothing; pruning then stubs such a function."""
from __future__ import annotations

import ast

import pytest

from sqlalint import bounded
from sqlalint.config import Settings
from sqlalint.engine import lint_source
from sqlalint.pruning import hot_pattern, prune
from sqlalint.rules import ALL_RULES

SLA301 = [rule for rule in ALL_RULES if rule.code == "SLA301"]

HEADER = '''\
from sqlalchemy import select
from registry import register
from sqlalchemy.orm import DeclarativeBase, Mapped, Query, mapped_column, sessionmaker

SessionLocal = sessionmaker()
session = SessionLocal()


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str]
'''

PICKED_SESSION = "def f(sessions):\n    return sessions.get('main').query(Event).all()\n"

# (function, may SLA301 report in it?) The rule reports in those marked True, but for those
# in NOT_REPORTED: may_report keeps what it does not model.
FUNCTIONS = [
    ("def f():\n    return session.query(Event).all()\n", True),
    ("def f(kind):\n    return session.query(Event).filter(Event.kind == kind).all()\n", False),
    ("def f(kind):\n    query = session.query(Event).filter_by(kind=kind)\n    return query.all()\n", False),
    ("def f(kind):\n    query = session.query(Event)\n    if kind:\n        query = query.where(Event.kind == kind)\n"
     "    return query.all()\n", False),
    ("def f():\n    query = session.query(Event).order_by(Event.id)\n    return query.all()\n", True),
    ("def f(query):\n    return query.all()\n", False),  # a parameter: the rule reads nothing
    ("def f():\n    query: Query = session.query(Event)\n    return query.all()\n", False),
    ("def f():\n    for event in session.query(Event):\n        print(event)\n", True),
    ("def f():\n    for event in session.query(Event).yield_per(100):\n        print(event)\n", False),
    ("def f(kind):\n    with SessionLocal() as s:\n"
     "        return s.execute(select(Event).where(Event.kind == kind)).scalars().all()\n", False),
    ("def f():\n    with SessionLocal() as s:\n        return s.execute(select(Event)).scalars().all()\n", True),
    ("def f():\n    stmt = select(Event).limit(10)\n    with SessionLocal() as s:\n"
     "        return s.scalars(stmt).all()\n", False),
    ("def f():\n    stmt = select(Event)\n    with SessionLocal() as s:\n        return s.scalars(stmt).all()\n", True),
    # A bounding method counts in any scope.
    ("def f():\n    return lambda: session.query(Event).limit(1).all()\n", False),
    # A lambda's, a comprehension's scope: the reader follows no variable there.
    ("def f():\n    query = session.query(Event)\n    return lambda: query.all()\n", False),
    ("def f():\n    query = session.query(Event)\n    return [e.id for e in query.all()]\n", False),
    ("def f():\n    return [e.id for e in session.query(Event).all()]\n", True),
    # A nested def's sites are read against its own bindings.
    ("def f():\n    def g():\n        query = session.query(Event)\n        return query.all()\n    return g\n", True),
    ("def f():\n    query = session.query(Event)\n\n    def g():\n        return query.all()\n    return g\n", False),
    # `.get()` before the origin may be what picks the Session (the rule cannot tell here).
    (PICKED_SESSION, True),
    ("def f():\n    return session.query(Event).all(1)\n", False),  # not `.all()`
    # `session` is no local of the function: as a receiver, the reader reads nothing through it.
    ("def f(kind):\n    return session.scalars(select(Event).where(Event.kind == kind)).all()\n", False),
    ("def f():\n    return session.scalars(select(Event)).all()\n", True),
    # A `:=` in a nested def's default binds in the function.
    ("def f():\n    def g(x=(query := session.query(Event))):\n        pass\n    return query.all()\n", True),
    # In the function's text, in the module's scope.
    ("@register(session.query(Event).all())\ndef f():\n    pass\n", True),
    ("def f(events=session.query(Event).all()):\n    pass\n", True),
    ("def f(make):\n    for event in make():\n        print(event)\n    return make().all()\n", False),
]


NOT_REPORTED = {PICKED_SESSION}


def _function(source: str) -> ast.AST:
    return ast.parse(source).body[0]


@pytest.mark.parametrize("source,expected", FUNCTIONS)
def test_may_report(source, expected):
    assert bounded.may_report(_function(source)) is expected


def test_may_report_says_false_only_where_sla301_reports_nothing():
    module, spans = HEADER, []
    for source, _ in FUNCTIONS:
        module += "\n\n"
        first = module.count("\n") + 1
        module += source
        spans.append((first, module.count("\n"), bounded.may_report(_function(source))))
    reported = {d.line for d in lint_source(module, "events.py", Settings(), rules=SLA301).diagnostics}
    for (first, last, may), (source, expected) in zip(spans, FUNCTIONS):
        assert may is expected
        assert any(first <= line <= last for line in reported) is (may and source not in NOT_REPORTED), source


def test_a_function_whose_chains_are_bounded_is_stubbed_and_findings_stay():
    bounded_, unbounded = FUNCTIONS[2][0], FUNCTIONS[0][0].replace("def f", "def g")
    module = HEADER + "\n\n" + bounded_ + "\n\n" + unbounded
    pruned = prune(module, hot_pattern(["SLA301"]))
    assert pruned is not None
    assert "filter_by" not in pruned.text and "f=(...," in pruned.text and "session.query(Event).all()" in pruned.text
    full = lint_source(module, "events.py", Settings(), rules=SLA301)
    assert [(d.code, d.line) for d in full.diagnostics] == [("SLA301", module.count("\n"))]
    assert lint_source(module, "events.py", Settings(), rules=SLA301, prune=True).diagnostics == full.diagnostics


def test_a_module_whose_chains_are_all_bounded_is_not_analysed():
    assert prune(HEADER + "\n\n" + FUNCTIONS[1][0], hot_pattern(["SLA301"])) is None
