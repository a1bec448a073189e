"""Pruning cuts definitions no running rule can report on, and changes no finding or fix."""
from __future__ import annotations

import ast
from pathlib import Path

import libcst
import pytest

from sqlalint import prefilter, pruning
from sqlalint.config import Settings
from sqlalint.engine import lint_source
from sqlalint.pruning import prune
from sqlalint.rules import ALL_RULES

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"
PRUNABLE = [rule for rule in ALL_RULES if rule.code in pruning.HOT]

MODULE = '''\
"""Orders."""
from sqlalchemy.ext.declarative import declarative_base

Base = declarative_base()


@decorated(
    "with arguments",
)
def cold(a):
    return a + 1


class Order(Base):
    __tablename__ = "orders"

    def total(self):
        return sum(self.lines)

    def legacy(self):
        from sqlalchemy.ext.declarative import declared_attr
        return declared_attr


def tail(): return 2
'''


def _hot(*codes: str) -> pruning.Hot:
    hot = pruning.hot_pattern(codes)
    assert hot is not None
    return hot


def test_cold_definitions_become_stubs_on_the_same_lines():
    pruned = prune(MODULE, _hot("SLA502"))
    assert pruned is not None
    assert pruned.text == '''\
"""Orders."""
from sqlalchemy.ext.declarative import declarative_base

Base = declarative_base()


cold=(...,"""



""")[0]


class Order(Base):
    __tablename__ = "orders"

    total=(...,"""
""")[0]

    def legacy(self):
        from sqlalchemy.ext.declarative import declared_attr
        return declared_attr


tail=...
'''
    assert pruned.text.count("\n") == MODULE.count("\n")
    # One statement per definition, ending on its last line: positions use the original's ast.
    assert [s.end_lineno for s in ast.parse(pruned.text).body] == [s.end_lineno for s in pruned.tree.body]
    libcst.parse_module(pruned.text)


def test_offsets_map_back_to_the_original_outside_stubs():
    pruned = prune(MODULE, _hot("SLA502"))
    assert pruned is not None
    for needle in ("class Order", "def legacy", "__tablename__"):
        assert pruned.original(pruned.text.index(needle)) == MODULE.index(needle)
    assert pruned.original(pruned.text.index("tail=...")) == MODULE.index("def tail")
    assert pruned.original(len(pruned.text)) == len(MODULE)
    inside = pruned.text.index("cold=") + 3
    assert pruned.original(inside) is None
    stub = pruned.text.index("cold=")
    assert pruned.original(stub) == MODULE.index("@decorated")


def test_a_span_that_holds_a_stub_maps_to_nothing():
    pruned = prune(MODULE, _hot("SLA502"))
    assert pruned is not None
    stub, after = pruned.text.index("cold="), pruned.text.index("class Order")
    assert pruned.original_span(stub, stub) == (MODULE.index("@decorated"),) * 2  # an insertion before it
    assert pruned.original_span(after, after + 5) == (MODULE.index("class Order"), MODULE.index("class Order") + 5)
    assert pruned.original_span(stub - 2, after) is None
    assert pruned.original_span(stub + 3, stub + 4) is None


def test_a_fix_whose_edit_spans_a_stub_is_made_on_the_whole_file():
    # The hoist rewrites the class's statement down to the call: `TABLE = ...` is stubbed.
    source = ('from sqlalchemy import create_engine\n\nDATABASE_URL = "sqlite://"\n\n\nclass ReportService:\n'
              '    TABLE = "users"\n\n    def fetch(self, report_id):\n        engine = create_engine(DATABASE_URL)\n'
              '        with engine.connect() as conn:\n            return conn\n')
    assert _pruned_sla101_fix(source, "    TABLE=...\n") == [
        'ENGINE = create_engine(DATABASE_URL)\n\n\nclass ReportService:\n    TABLE = "users"\n\n'
        '    def fetch(self, report_id):\n        engine = ENGINE']


def test_crlf_and_a_last_line_without_newline_are_kept():
    source = MODULE.replace("\n", "\r\n").rstrip("\r\n")
    pruned = prune(source, _hot("SLA502"))
    assert pruned is not None
    assert pruned.text == prune(MODULE, _hot("SLA502")).text.replace("\n", "\r\n").rstrip("\r\n")


def test_definitions_named_by_what_is_kept_are_kept():
    source = '''\
from sqlalchemy.orm import Session


def helper(session):
    session.close()


class Base:
    pass


class Child(Base):
    def run(self, session):
        session.execute("SELECT 1")
        helper(session)


def unrelated():
    pass
'''
    pruned = prune(source, _hot("SLA402"))
    assert pruned is not None
    assert "def helper" in pruned.text and "class Base" in pruned.text
    assert "unrelated=(...," in pruned.text


def test_a_kept_class_keeps_the_methods_its_own_code_names():
    source = '''\
class Repository:
    def cached(function):
        return function

    def aliased(self):
        return 1

    other = aliased

    def called_from_a_method(self):
        return 2

    @cached
    def run(self, session, default=other):
        session.execute("SELECT 1")
        return self.called_from_a_method()

    def unused(self):
        return 3
'''
    pruned = prune(source, _hot("SLA402"))
    assert pruned is not None
    # A bare name in a method is a global: only the class body and the kept methods'
    # decorators and signatures (evaluated in the class's scope) reach a method by name
    # (here through ``other``, which ``run``'s default names).
    assert pruned.text == '''\
class Repository:
    def cached(function):
        return function

    def aliased(self):
        return 1

    other = aliased

    called_from_a_method=(...,"""
""")[0]

    @cached
    def run(self, session, default=other):
        session.execute("SELECT 1")
        return self.called_from_a_method()

    unused=(...,"""
""")[0]
'''


MODEL = '''\
from app import db


class Event(db.Model):
    __tablename__ = "events"
    id = db.Column(db.Integer, primary_key=True)
    #: the title: a comment names no binding
    title = db.Column(
        db.String,
        nullable=False,
    )
    kind: str = db.Column(db.String)  # the annotation is dropped with it
    first = last = db.Column(db.Integer)
    shown = db.Column(db.Boolean); hidden = 1
    default_kind = "talk"
    order = db.Column(db.Integer, default=kind)
    columns = "name"
    SQL = "SELECT " + columns + " FROM events"
    unused_sql = "SELECT 1"

    @property
    def count(self, wanted=default_kind):
        return len(self.query.filter_by(kind=wanted).all()) + len(Event.SQL)

    def helper(self):
        return 1
'''


def test_cold_class_level_assignments_of_a_kept_class_become_stubs():
    pruned = prune(MODEL, _hot("SLA302"))
    assert pruned is not None
    # Kept: the model names (``__tablename__``, ``id``), a line shared with another
    # statement, what the kept method's signature names, and a value that may be read as
    # ``Event.SQL`` (constant SQL text), and what that names. ``order`` names ``kind`` but is
    # cut itself; a method reads ``kind`` only as an attribute, not by name; a comment
    # names nothing.
    assert pruned.text == '''\
from app import db


class Event(db.Model):
    __tablename__ = "events"
    id = db.Column(db.Integer, primary_key=True)
    #: the title: a comment names no binding
    title=(...,"""


""")[0]
    kind=...
    first=last=...
    shown = db.Column(db.Boolean); hidden = 1
    default_kind = "talk"
    order=...
    columns = "name"
    SQL = "SELECT " + columns + " FROM events"
    unused_sql=...

    @property
    def count(self, wanted=default_kind):
        return len(self.query.filter_by(kind=wanted).all()) + len(Event.SQL)

    helper=(...,"""
""")[0]
'''
    assert [s.end_lineno for s in ast.parse(pruned.text).body] == [s.end_lineno for s in pruned.tree.body]
    libcst.parse_module(pruned.text)
    assert pruned.original(pruned.text.index("    title=")) == MODEL.index("    title =")  # a stub starts its line
    assert pruned.original(pruned.text.index("shown =")) == MODEL.index("shown =")
    assert pruned.original(pruned.text.index("    SQL =")) == MODEL.index("    SQL =")


def test_class_level_stubs_keep_crlf_and_tabs():
    pruned = prune(MODEL, _hot("SLA302"))
    assert pruned is not None
    for old, new in (("\n", "\r\n"), ("    ", "\t")):
        changed = prune(MODEL.replace(old, new), _hot("SLA302"))
        assert changed is not None and changed.text == pruned.text.replace(old, new)
        libcst.parse_module(changed.text)


def test_class_level_assignments_a_rule_reports_on_are_kept():
    # SLA202 reports class-level Sessions, also those a local function makes, which the
    # assignment's text does not show: each assignment of a call stays, and one that says
    # ``session`` (its ``level`` pattern).
    pruned = prune(MODEL.replace('default_kind = "talk"', 'default_kind = "session"'), _hot("SLA202", "SLA302"))
    assert pruned is not None
    for kept in ("title = db.Column(", "kind: str = db.Column", "first = last = db.Column",
                 "order = db.Column", 'default_kind = "session"'):
        assert kept in pruned.text
    assert "unused_sql=..." in pruned.text
    source = ("from sqlalchemy.orm import Session\n\n\ndef helper():\n    return Session()\n\n\n"
              "class A:\n    x = helper()\n\n    def run(self, session):\n        return len(session.query(A).all())\n")
    _same(source, Settings(), [rule for rule in ALL_RULES if rule.code in ("SLA202", "SLA302")])


@pytest.mark.parametrize("code,source,line", [
    # Nothing in `A` says Session: only inference of `helper` tells that `x` is one.
    ("SLA202", "from sqlalchemy.orm import Session\n\n\ndef helper():\n    return Session()\n\n\n"
               "class A:\n    x = helper()\n", 9),
    # What the module imports under another name is hot.
    ("SLA501", "from sqlalchemy import MetaData as M, create_engine\n\nengine = create_engine('sqlite://')\n\n\n"
               "def make():\n    return M(bind=engine)\n", 7),
], ids=["a class that assigns a call is kept for SLA202", "an alias of what is imported is hot"])
def test_findings_pruning_used_to_lose(code, source, line):
    rules = [rule for rule in ALL_RULES if rule.code == code]
    assert _found(source, rules) == [(code, line)]
    _same(source, Settings(), rules)


def test_lines_starting_with_a_hash_name_nothing_unless_an_f_string_is_near():
    # `head, tail = ...` is never cut (two targets): what its lines name stays.
    source = ('class A:\n    table = name_of("events")\n    head, tail = """\n#{table}\n""", 1\n\n'
              '    def run(self, session):\n        return len(session.query(A).all())\n')
    assert "    table=...\n" in prune(source, _hot("SLA302")).text
    with_field = source.replace('head, tail = """', 'head, tail = f"""')
    assert '    table = name_of("events")\n' in prune(with_field, _hot("SLA302")).text


def test_class_level_assignments_with_a_walrus_or_a_global_word_are_kept():
    source = ("class A:\n    x = (y := f())\n    z = g('global')\n    w = h()\n\n"
              "    def run(self, session):\n        return len(session.query(A).all())\n")
    pruned = prune(source, _hot("SLA302"))
    assert pruned is not None
    assert "x = (y := f())" in pruned.text and "z = g('global')" in pruned.text and "    w=...\n" in pruned.text


def test_class_level_sql_constants_keep_their_findings():
    source = '''\
from sqlalchemy import text


class Queries:
    BY_ID = "SELECT * FROM users WHERE id = %s"
    OTHER = db.Column(db.String)

    def run(self, session, user_id):
        return session.execute(text(Queries.BY_ID % user_id))
'''
    pruned = prune(source, _hot("SLA401"))
    assert pruned is not None and "BY_ID = " in pruned.text and "OTHER=..." in pruned.text
    _same(source, Settings(), [rule for rule in ALL_RULES if rule.code == "SLA401"])


def test_rules_that_need_no_definition_keep_none_for_being_named():
    source = '''\
from sqlalchemy.ext.declarative import declarative_base

Base = declarative_base()


class Order(Base):
    __tablename__ = "orders"


def run(session):
    session.execute("SELECT 1")


Order.registry = run
'''
    pruned = prune(source, _hot("SLA502"))
    assert pruned is not None
    assert "Order=(...," in pruned.text and "run=(...," in pruned.text
    # SLA402's finding depends on what ``session`` is: the named class stays with it.
    both = prune(source, _hot("SLA402", "SLA502"))
    assert both is not None
    assert "class Order(Base):" in both.text and "def run(session):" in both.text


def test_a_definition_that_rebinds_a_module_name_is_kept():
    source = ('SQL = "SELECT 1"\n\n\ndef change():\n    global SQL\n    SQL = make()\n\n\n'
              'def run(c):\n    c.execute(SQL)\n')
    pruned = prune(source, _hot("SLA402"))
    assert pruned is not None and "global SQL" in pruned.text


def test_nothing_hot_means_nothing_to_analyse():
    assert prune("import sqlalchemy\n\n\ndef f():\n    return 1\n", _hot("SLA402")) is None


def test_odd_line_breaks_and_syntax_errors_are_analysed_whole():
    for source in ("def f():\r    execute('x')\rdef g(): pass\r", "def f(:\n    execute('x')\n"):
        pruned = prune(source, _hot("SLA402"))
        assert pruned is not None and pruned.text == source and not pruned.cuts


def test_rules_whose_findings_can_depend_on_any_definition_do_not_prune():
    assert pruning.hot_pattern(["SLA301", "SLA102"]) is None
    assert pruning.hot_pattern(["SLA102"]) is None


def test_a_thread_rule_keeps_the_whole_class_of_a_kept_method():
    # The pool ``self`` holds is read from __init__; the function a thread runs is named.
    source = """\
from concurrent.futures import ThreadPoolExecutor


class Worker:
    def __init__(self):
        self.pool = ThreadPoolExecutor()

    def start(self):
        self.pool.submit(self.run)

    def run(self):
        return SESSION.get(1)


class Idle:
    def __init__(self):
        self.x = 1

    def other(self):
        return self.x


def helper():
    return 2
"""
    pruned = prune(source, pruning.hot_pattern(["SLA203"]))
    assert pruned is not None
    kept = {name for name in ("__init__", "start", "run", "other", "helper") if f"def {name}" in pruned.text}
    assert kept == {"__init__", "start", "run"}


REGISTRIES = """\
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker())
Worker = scoped_session(sessionmaker())
Alias = Worker


def handle(item_id):
    return Session.get(dict, item_id)


def work():
    return Alias.get(dict, 1)


def registry():
    return Worker


def teardown():
    registry().remove()


def test_scoped_session_in_a_name():
    return 1


def unrelated(session):
    return session.get(dict, 2)
"""


def test_a_registry_rule_keeps_its_uses_and_what_may_remove_it():
    pruned = prune(REGISTRIES, pruning.hot_pattern(["SLA205"], prefilter.Project()))
    assert pruned is not None
    names = ("handle", "work", "registry", "teardown", "test_scoped_session_in_a_name", "unrelated")
    # `teardown` calls `.remove()` on what `registry` returns: kept, and `registry` with it.
    assert {name for name in names if f"def {name}" in pruned.text} == {"handle", "work", "registry", "teardown"}
    found = [(d.code, d.line, d.column) for d in lint_source(REGISTRIES, "m.py", prune=True).diagnostics]
    assert found == [(d.code, d.line, d.column) for d in lint_source(REGISTRIES, "m.py").diagnostics]
    assert found == [("SLA205", 3, 11)]
    assert prune("def test_scoped_session_in_a_name():\n    return 1\n", pruning.hot_pattern(["SLA205"])) is None


OPENS = '''\
from sqlalchemy.orm import sessionmaker
from app.db import make_session as new_session

Factory = sessionmaker()


def get_db():
    return Factory()


class Service:
    registry = sessionmaker()

    def run(self, db_session):
        return db_session.query(1)

    def load(self):
        db = get_db()
        return db.get(1)

    def fresh(self):
        s = new_session()
        return s


def unrelated(db_session):
    return db_session.query(2)
'''


def test_session_rules_keep_openers_their_callers_and_class_level_sessions():
    pruned = prune(OPENS, pruning.hot_pattern(["SLA202", "SLA204"], prefilter.Project()))
    assert pruned is not None
    kept = {name for name in ("get_db", "load", "fresh", "run", "unrelated") if f"def {name}" in pruned.text}
    # get_db calls Factory (bound to a sessionmaker), load calls get_db, fresh an alias of
    # one; the class is kept for its class-level sessionmaker.
    assert kept == {"get_db", "load", "fresh"}
    assert "registry = sessionmaker()" in pruned.text


def test_cache_decorators_under_another_name_are_hot():
    source = '''\
from functools import lru_cache as memo
from sqlalchemy.orm import Session


@memo
def get_session():
    return Session()


@memo
def settings():
    return {}


def other():
    return 1
'''
    pruned = prune(source, pruning.hot_pattern(["SLA201"]))
    assert pruned is not None
    # Both decorated functions stay: the fix may remove the import only if nothing else uses it.
    assert "def get_session" in pruned.text and "def settings" in pruned.text
    assert "other=(...," in pruned.text


def test_the_module_a_cache_decorator_comes_from_stays_used():
    # The fix removes `import functools` only when nothing else uses it: found by fuzzing.
    source = '''\
import functools
from sqlalchemy.orm import Session


@functools.lru_cache()
def get_session():
    return Session()


def helper():
    return functools.partial(print)
'''
    rules = [rule for rule in ALL_RULES if rule.code == "SLA201"]
    _same(source, Settings(), rules)
    [finding] = lint_source(source, "example.py", Settings(), rules=rules, prune=True).diagnostics
    assert [(e.start, e.end, e.content) for e in finding.fix.edits] == [(54, 77, "")]  # the decorator only


def test_global_sessions_keep_the_functions_that_use_them():
    source = '''\
from sqlalchemy.orm import Session, sessionmaker
from app.db import make

factory = sessionmaker()
first = factory()
second = make()


def uses_first():
    return first.get(1)


def uses_second():
    return second.get(1)


def hinted(db: Session):
    return db.get(1)
'''
    pruned = prune(source, pruning.hot_pattern(["SLA202"], prefilter.Project(sessions=frozenset({"make"}))))
    assert pruned is not None
    # The fix rewrites every use of a global Session; a type hint is no use of one.
    assert "def uses_first" in pruned.text and "def uses_second" in pruned.text
    assert "hinted=(...," in pruned.text


def test_project_session_factories_are_openers():
    source = "from app.db import make\n\n\ndef f():\n    s = make()\n\n\ndef g(db_session):\n    pass\n"
    assert prune(source, pruning.hot_pattern(["SLA204"], prefilter.Project())) is None
    pruned = prune(source, pruning.hot_pattern(["SLA204"], prefilter.Project(sessions=frozenset({"make"}))))
    assert pruned is not None and "def f" in pruned.text and "def g" not in pruned.text


def test_a_method_that_says_session_opens_nothing_a_project_name_through_a_module_does():
    # Inference follows an attribute call only to SQLAlchemy's own names and the project's:
    # ``Repo.from_session(s)`` opens nothing, ``deps.get_db()`` may (the index knows it).
    source = """\
import app.deps as deps
from sqlalchemy import orm


def wraps(session):
    repo = Repository.from_session(session)
    return repo.get(1)


def through_the_module():
    db = deps.get_db()
    return db


def api():
    return orm.Session(ENGINE)


def named():
    return new_session_for(1)
"""
    pruned = prune(source, pruning.hot_pattern(["SLA204"], prefilter.Project(sessions=frozenset({"get_db"}))))
    assert pruned is not None
    kept = {name for name in ("wraps", "through_the_module", "api", "named") if f"def {name}" in pruned.text}
    assert kept == {"through_the_module", "api", "named"}
    unknown = prune(source, pruning.hot_pattern(["SLA204"], prefilter.Project()))
    assert unknown is not None and "def through_the_module" not in unknown.text


@pytest.mark.parametrize("module,hot", [
    # An import names a Session: no finding of SLA202 is an import statement.
    ("from sqlalchemy.orm import Session\nfrom app.db import AsyncSession  # typing\n", False),
    ("if TYPE_CHECKING:\n    from sqlalchemy.orm import (\n        Session,\n    )\n", False),
    # What the import binds, used at module level, is.
    ("from sqlalchemy.orm import Session as S\ns = S(ENGINE)\n", True),
    # An import that shares its line with other code is read with it.
    ("import os; s = Session(ENGINE)\n", True),
    ("s = Session(ENGINE); import os\n", True),
    ("from sqlalchemy.orm import Session\nsession = Session(ENGINE)\n", True),
])
def test_imports_alone_do_not_make_module_level_code_hot(module, hot):
    source = module + "\n\ndef cold(db: Session):\n    return db.get(1)\n"
    pruned = prune(source, pruning.hot_pattern(["SLA202"], prefilter.Project()))
    assert (pruned is not None) is hot


def test_the_runner_parses_the_pruned_text(monkeypatch, tmp_path):
    from sqlalint import engine, runner

    parsed = []
    real = engine.cst.parse_module
    monkeypatch.setattr(engine.cst, "parse_module", lambda text: parsed.append(text) or real(text))
    source = MODULE + "\n\ndef query_all(session):\n    return session.execute('SELECT 1')\n"
    path = tmp_path / "orders.py"
    path.write_text(source)
    report = runner.process_file(path, Settings(root=tmp_path), runner.Mode.CHECK, False)
    # (``session`` is a parameter of unknown type: no SLA402.)
    assert [(d.code, d.line, d.column) for d in report.diagnostics] == [("SLA502", 2, 1), ("SLA502", 21, 9)]
    [text] = parsed
    assert 'cold=(...,"""' in text and "def query_all" in text and text.count("\n") == source.count("\n")


ENGINES = '''\
from sqlalchemy import create_engine as make
from app import register


def engine_for(url):
    return make(url)


def engine_for_handlers(url):
    return make(url)


def per_call(url):
    return make(url)


class Settings:
    engine = engine_for("sqlite://")

    def cold(self):
        return 1


@register(engine_for_handlers("sqlite://"))
def handler():
    return 2


def helper():
    return 3
'''


def test_engine_factories_keep_what_calls_them_at_import_time():
    # A class body and a decorator call the first two at import time: they run once.
    sla101 = [rule for rule in ALL_RULES if rule.code == "SLA101"]
    pruned = prune(ENGINES, pruning.hot_pattern(["SLA101"]))
    assert pruned is not None
    assert "    engine = engine_for(\"sqlite://\")\n" in pruned.text and "@register(engine_for_handlers(" in pruned.text
    assert "    cold=(...," in pruned.text and "\nhelper=(...," in pruned.text
    assert _found(ENGINES, sla101) == [("SLA101", 14)]
    _same(ENGINES, Settings(), sla101)


def test_a_hoisted_engine_is_named_as_in_the_whole_file():
    # `ENGINE` is taken inside `cold`, which pruning stubs: the fix still says ENGINE_2.
    source = ("from sqlalchemy import create_engine\n\n\ndef ping():\n    engine = create_engine(\"sqlite://\")\n"
              "    engine.connect()\n\n\ndef cold():\n    ENGINE = 1\n    return ENGINE\n")
    assert _pruned_sla101_fix(source, "cold=(...,") == [
        'ENGINE_2 = create_engine("sqlite://")\n\n\ndef ping():\n    engine = ENGINE_2']


def _pruned_sla101_fix(source: str, stub: str) -> list[str]:
    """The edits of SLA101's one fix, pruned (``stub`` is in the pruned text), after
    checking that the whole file gives the same findings and fixes."""
    sla101 = [rule for rule in ALL_RULES if rule.code == "SLA101"]
    pruned = prune(source, pruning.hot_pattern(["SLA101"]))
    assert pruned is not None and stub in pruned.text
    [finding] = lint_source(source, "example.py", Settings(), rules=sla101, prune=True).diagnostics
    _same(source, Settings(), sla101)
    return [edit.content for edit in finding.fix.edits]


def _found(source: str, rules) -> list[tuple[str, int]]:
    """What the rules find with pruning."""
    found = lint_source(source, "example.py", Settings(), rules=rules, prune=True)
    return [(d.code, d.line) for d in found.diagnostics]


def _same(source: str, settings: Settings, rules) -> None:
    full = lint_source(source, "example.py", settings, rules=rules)
    pruned = lint_source(source, "example.py", settings, rules=rules, prune=True)
    assert pruned.diagnostics == full.diagnostics
    assert pruned.errors == full.errors == []


EXAMPLES = [pytest.param(rule, example, id=f"{rule.code}-{kind}-{i}")
            for rule in PRUNABLE for kind in ("valid", "invalid")
            for i, example in enumerate(getattr(rule, kind))]


@pytest.mark.parametrize("rule,example", EXAMPLES)
def test_rule_examples_give_the_same_findings_and_fixes_pruned(rule, example):
    settings = Settings(select=(rule.code,), **{k.replace("-", "_"): v for k, v in example.settings.items()})
    _same(example.source, settings, [rule])


@pytest.mark.skipif(not CASES.is_dir(), reason="../shared/cases is not beside the checkout")
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("*.py")) if CASES.is_dir() else [])
def test_labelled_cases_give_the_same_findings_and_fixes_pruned(case):
    source = (CASES / case).read_text(encoding="utf-8")
    settings = Settings(root=CASES)
    _same(source, settings, PRUNABLE)
    for rule in PRUNABLE:
        _same(source, settings, [rule])
