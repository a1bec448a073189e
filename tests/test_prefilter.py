"""The regex prefilter never drops a file a rule reports on."""
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


def _project(settings: dict) -> prefilter.Project:
    names = [*settings.get("session-factories", ()), *settings.get("engine-factories", ())]
    return prefilter.as_project(n.rpartition(".")[2] for n in names)


@pytest.mark.parametrize("rule,number,example", INVALID, ids=[f"{r.code}-{n}" for r, n, _ in INVALID])
def test_invalid_examples_pass_their_rule_condition(rule, number, example):
    condition = _condition(rule)
    facts = prefilter.facts_of(example.source)
    assert condition is None or condition(facts, _project(example.settings))


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


def _passes(code: str, source: str, project=frozenset()) -> bool:
    rules = [r for r in ALL_RULES if r.code == code]
    return prefilter.could_match(source, rules, project)


def test_code_drops_comments_and_plain_strings_keeps_fstrings():
    code = prefilter.code_of(
        b"x = 'a # b' + session  # Session here\n"
        b"y = f\"{db.query(X)}\" + \"\"\"doc\nSession\"\"\"\n"
        b"if\"q\": pass\n")
    assert code == b"x = ' + session  \ny = f\"{db.query(X)}\" + \"\nif\": pass\n"


def test_code_is_the_whole_file_when_an_fstring_nests_its_own_quote():
    data = b"s = f\"{d[\"k\"]} {session.query(X).all()}\"  # 3.12\n"
    assert prefilter.code_of(data) == data


def test_code_keeps_strings_continued_with_crlf():
    assert prefilter.code_of(b"x = 'a\\\r\nb' + y\r\n") == b"x = ' + y\r\n"


def test_unparseable_files_are_judged_on_their_text():
    assert prefilter.could_match("from sqlalchemy.orm import Session\ndef (:\n  session = Session()\n",
                                 ALL_RULES, frozenset())
    rules = [r for r in ALL_RULES if r.code in ("SLA202", "SLA204")]
    assert not prefilter.could_match("def (:\n  # Session\n", rules, frozenset())


def test_file_without_any_condition_is_skipped():
    # Names sessions only in a comment and a string: no rule with a condition can match.
    rules = [r for r in ALL_RULES if r.code in ("SLA202", "SLA204", "SLA301")]
    assert not prefilter.could_match("# Session\nimport sqlalchemy\nx = 'session'\n", rules, frozenset())
    assert prefilter.could_match("from sqlalchemy.orm import Session\ns = Session()\n", rules, frozenset())


def test_session_names_in_fstring_fields_count():
    assert _passes("SLA204", "import sqlalchemy as sa\nx = f'{sa.orm.Session()}'\n")
    assert not _passes("SLA204", "import sqlalchemy.orm\nx = 'Session'\n")


def test_sqlalchemy_names_count_only_beside_an_import_of_sqlalchemy():
    # A project model called ``Session`` (as in indico) is no SQLAlchemy Session.
    assert not _passes("SLA204", "from app.models import Session\ns = Session(title='x')\n")
    assert _passes("SLA204", "from sqlalchemy.orm import Session\ns = Session(engine)\n")
    assert _passes("SLA204", "from sqlmodel import Session\ns = Session(engine)\n")
    assert _passes("SLA204", "import sqlalchemy as sa\ns = sa.orm.Session(engine)\n")
    # A project factory needs no SQLAlchemy import.
    assert _passes("SLA204", "from app.db import SessionLocal\ns = SessionLocal()\n", frozenset({"SessionLocal"}))
    assert not _passes("SLA101", "from app.pools import create_engine\ne = create_engine()\n")


def test_engines_are_made_per_call_only_in_functions():
    assert not _passes("SLA101", "from sqlalchemy import create_engine\n\nengine = create_engine('sqlite://')\n")
    assert _passes("SLA101", "from sqlalchemy import create_engine\n\ndef get():\n    return create_engine(u)\n")
    assert _passes("SLA101", "from sqlalchemy import create_engine\n\nget = lambda: create_engine(u)\n")


@pytest.mark.parametrize("source,passes", [
    ("from sqlalchemy.orm import (\n    joinedload,\n    Session as S,\n)\n", True),
    ("from sqlalchemy.orm import joinedload, \\\n    Session\n", True),
    ("from sqlmodel import Session\n", True),
    ("from . import Session\n", True),  # SQLAlchemy's own source
    ("import sqlalchemy.orm\ns = sqlalchemy.orm.Session(e)\n", True),
    # indico: a model called Session, beside imports from SQLAlchemy of other names.
    ("from sqlalchemy.orm import joinedload\nfrom app.sessions import Session\nSession.query.all()\n", False),
    ("from sqlalchemy.orm import joinedload  # Session\nfrom app import Session\n", False),
])
def test_sqlalchemy_names_must_be_imported_from_it(source, passes):
    assert _passes("SLA204", source) is passes


def test_unbounded_load_needs_a_model_a_query_origin_and_a_load():
    loads = "def f(session):\n    return session.query(Event).all()\n"
    assert _passes("SLA301", loads, prefilter.Project(known=frozenset({"Event"})))
    assert not _passes("SLA301", loads)  # Event is unknown: no model, no finding
    assert _passes("SLA301", "class Event(Base):\n    pass\n" + loads)
    assert _passes("SLA301", "def f(s):\n    for e in s.scalars(select(Event)):\n        pass\n",
                   prefilter.Project(known=frozenset({"Event"})))
    assert not _passes("SLA301", "class A:\n    def f(self):\n        return self.items.all()\n")
    continued = "class A:\n    def f(self, s: Session):\n        return s.query(A).\\\n  all()\n"
    assert not prefilter.NECESSARY["SLA301"](prefilter.facts_of(continued), prefilter.Project())  # s is unknown
    continued = "from sqlalchemy.orm import Session\n" + continued
    assert prefilter.NECESSARY["SLA301"](prefilter.facts_of(continued), prefilter.Project())


@pytest.mark.parametrize("body", [
    "return (await session.scalars(select(Event))).all()",
    "return (session.query(Event)).all()",
    "x = not (Event.query).all()",
])
def test_unbounded_load_passes_chains_in_parentheses_without_a_loop(body):
    # No ``for`` in the file: only the ``.all()`` receiver can let it through.
    assert _passes("SLA301", f"async def f(session):\n    {body}\n", _EVENT)


def test_a_rule_whose_triggers_are_absent_is_not_asked():
    # SLA301's condition holds, but the file has neither ``.all(`` nor ``for ``.
    assert not _passes("SLA301", "class A:\n    def f(self, s):\n        return s.query(A).\\\n  all()\n")


def test_a_plain_name_holds_a_chain_only_where_an_assignment_can_start_one():
    # What pruning asks of one definition: the chain reader follows `q` only through its
    # assignments in the same function, so one of them must hold an origin.
    def loads_here(source):
        return prefilter.loads_here(prefilter.facts_of(source), sessions=True)

    assert loads_here("def f(s):\n    q = s.query(Event)\n    return q.all()\n")
    assert loads_here("def f():\n    q = Event.query\n    return q.all()\n")
    assert loads_here("def f(s, stmt):\n    rows = s.execute(stmt)\n    return rows.all()\n")
    assert loads_here("def f(s):\n    q = s.query(Event)\n    for e in q.order_by(Event.id):\n        pass\n")
    assert not loads_here("def f(items):\n    return items.all()\n")
    assert not loads_here("def f(items):\n    # items = s.query(Event)\n    return items.all()\n")
    assert not loads_here("def f(items):\n    for e in items.order_by(x):\n        pass\n")


def test_len_of_all_needs_len_all_and_a_query_origin():
    assert _passes("SLA302", "n = len(session.query(Event)\n    .all())\n")
    assert not _passes("SLA302", "n = len(items.all())\n")
    assert not _passes("SLA302", "n = obj.len(session.query(Event).all)\n")


@pytest.mark.parametrize("source", [
    "session.execute(text(f'SELECT * FROM t WHERE id = {i}'))\n",
    "session.execute('SELECT * FROM t WHERE id = %s' % i)\n",
    "session.execute(text('SELECT * FROM t WHERE id = {}'.format(i)))\n",
    "session.execute(text('SELECT * FROM t WHERE id = ' + i))\n",
    "session.execute(text(prefix + 'WHERE id = 1'))\n",
    "q = ('SELECT * FROM t WHERE id = ') \\\n  + str(i)\nconn.exec_driver_sql(q)\n",
])
def test_sql_from_strings_passes_built_strings(source):
    assert _passes("SLA401", _CONNECTION + source)


@pytest.mark.parametrize("source", [
    "session.execute(text('SELECT 1'))\n",
    "session.execute(select(User).where(User.id == i))\n",
    "x = a + b\nsession.execute(stmt)  # f'{x}' in a comment\n",
])
def test_sql_from_strings_skips_constant_sql(source):
    assert not _passes("SLA401", source)


def test_legacy_declarative_import_needs_the_module_path():
    assert _passes("SLA502", "from sqlalchemy.ext.declarative import declarative_base\n")
    assert _passes("SLA502", "from sqlalchemy . ext import (\n    declarative)\n")
    assert not _passes("SLA502", "from sqlalchemy.orm import declarative_base\n")
    assert not _passes("SLA502", "# from sqlalchemy.ext.declarative import declarative_base\n"
                                 "from sqlalchemy.orm import declarative_base\n")


_EVENT = prefilter.Project(known=frozenset({"Event"}))


@pytest.mark.parametrize("body", [
    "return Event.query.all()",
    "return session.query(Event).order_by(Event.id).all()",
    "q = Event.query\n    return q.all()",
    "return (await session.scalars(select(Event))).all()",
    "return session.query(Event).options(\n        joinedload(Event.x)  # why\n    ).all()",
    "return [e.id for e in session.execute(select(Event))]",
    "for e in session.query(Event):\n        pass",
    "for e in session.query(Event).order_by(Event.id) \\\n  :\n        pass",
    "return sum(1 for e in session.scalars(select(Event)) if e)",
    "return Event.query.order_by(f'{x})').all()",  # brackets in an f-string
])
def test_unbounded_load_passes_chains_that_may_load_everything(body):
    assert _passes("SLA301", f"async def f(session, x):\n    {body}\n    for y in z: pass\n", _EVENT)


@pytest.mark.parametrize("body", [
    "return Event.query.filter_by(id=1).all()",
    "return session.query(Event).limit(10).all()",
    "return self.items.all()",
    "return helper(Event.query).all()",
    "return rows[0].all()",
    "for e in session.query(Event).filter(Event.x == '(').limit(3):\n        pass",
    "for e in Event.query.yield_per(100):\n        pass",
    "return Event.query.filter(Event.name == f'{x})').all()",  # brackets in an f-string
])
def test_unbounded_load_skips_chains_that_cannot(body):
    assert not _passes("SLA301", f"def f(session):\n    {body}\n    for y in z: pass\n", _EVENT)


@pytest.mark.parametrize("source,passes", [
    ("conn.execute('SELECT 1')\n", True),
    ("conn.execute(\n    # why\n    'SELECT 1', {})\n", True),
    ("sql = 'SELECT 1'\nconn.execute(sql)\n", True),
    ("SQL = 'SELECT 1'\nconn.execute(statement=(SQL), parameters={})\n", True),
    ("conn.execute(('SELECT ' 'x'))\n", True),
    ("conn.execute(select(User))\n", False),
    ("conn.execute(text('SELECT 1'))\n", False),
    ("conn.execute(users.insert(), rows)\n", False),
])
def test_string_execute_needs_a_string_or_a_name_as_statement(source, passes):
    assert _passes("SLA402", _CONNECTION + source) is passes


# A Connection the execute() calls may be made on.
_CONNECTION = "from sqlalchemy import create_engine\nconn = create_engine(URL).connect()\n"


def test_string_execute_through_a_name_needs_a_string_assigned():
    assert _passes("SLA402", "SQL = (\n    'SELECT 1')\ndef f(conn: Session):\n    conn.execute(SQL)\n",
                   frozenset({"Session"}))
    assert not _passes("SLA402", "def f(conn: Session, stmt):\n    x = compile(stmt)\n    conn.execute(x)\n",
                       frozenset({"Session"}))


@pytest.mark.parametrize("source,passes", [
    ("session.execute(text(f'SELECT * FROM t WHERE id = {i}'))\n", True),
    ("sql = (\n    'SELECT * FROM t WHERE id = ' + str(i))\nconn.execute(sql)\n", True),
    ("conn.execute(\n    statement=(sql), parameters={})\nsql = f'SELECT {x}'\n", True),
    ("from sqlalchemy import text as T\nq = T('SELECT %s' % x)\n", True),
    ("x = f'{s.execute(text(f\"SELECT {y}\"))}'\n", True),  # a call inside an f-string's field
    ("sql = 'SELECT ' \\\r\n  + x\nconn.execute(sql)\n", True),  # continued with CRLF
    # A built string that reaches neither text() nor an execute.
    ("log.info(f'running {name}')\nsession.execute(select(User))\n", False),
    ("msg = f'{x}'\nsession.execute(stmt, {'m': msg})\n", False),
    ("sql = 'SELECT 1'\nlabel = f'{sql}'\nconn.execute(sql)\n", False),
])
def test_sql_from_strings_needs_a_built_string_reaching_text_or_execute(source, passes):
    assert _passes("SLA401", _CONNECTION + source) is passes


def test_sql_from_strings_through_execute_needs_a_receiver():
    # alembic's ``op.execute(f"...")`` in a migration: no Session, Connection or Engine.
    assert not _passes("SLA401", "from alembic import op\nop.execute(f'UPDATE t SET x = {y}')\n")
    assert _passes("SLA401", "import sqlalchemy as sa\nfrom alembic import op\nop.execute(sa.text(f'{y}'))\n")
    assert _passes("SLA401", "db.session.execute(f'UPDATE t SET x = {y}')\n")


@pytest.mark.parametrize("source,passes", [
    ("n = len(session.query(Event).all())\n", True),
    ("n = len((session.query(Event)\n    .all()),)\n", True),
    ("n = f'{len(session.query(Event).all())}'\n", True),
    ("n = len(session.query(Event).all()) + len(x)\n", True),
    ("rows = session.query(Event).all()\nn = len(rows)\n", False),
    ("n = len(session.query(Event).all() + extra)\n", False),
    ("n = len(x)\nrows = session.query(Event).all()\n", False),
])
def test_len_of_all_needs_all_as_the_whole_argument_of_len(source, passes):
    assert _passes("SLA302", source) is passes


@pytest.mark.parametrize("source,passes", [
    ("import functools\nfrom sqlalchemy.orm import Session\n@functools.lru_cache(maxsize=None)\n"
     "def f():\n    return Session()\n", True),
    ("from functools import cache as memo\n@memo\ndef f():\n    return db.session()\n", True),
    ("from functools import cache\nimport sqlmodel\n@(cache)\ndef f():\n    return sqlmodel.Session()\n", True),
    ("from app.cache import cache\nx = cache.get('k')\ndef f():\n    return Session()\n", False),
    ("import functools\n@functools.lru_cache\ndef f():\n    return 1\n", False),
])
def test_cached_session_needs_a_cache_decorator_and_a_session_source(source, passes):
    assert _passes("SLA201", source) is passes


@pytest.mark.parametrize("source,passes", [
    ("import multiprocessing\nimport sqlalchemy as sa\nengine = sa.create_engine(URL)\n"
     "multiprocessing.Pool(4).map(f, xs)\n", True),
    ("import os\nfrom sqlalchemy.orm import sessionmaker\nSession = sessionmaker(bind=e)\n"
     "if os.fork() == 0:\n    pass\n", True),
    ("from concurrent.futures import ProcessPoolExecutor\nfrom app.db import engine\n", True),
    ("import multiprocessing\nmultiprocessing.Pool(4).map(f, xs)\n", False),  # no engine
    ("engine = create_engine(URL)\npool = Pool()\n", False),  # no process module imported
])
def test_pool_inherited_by_fork_needs_a_fork_and_an_engine(source, passes):
    assert _passes("SLA102", source, frozenset({"engine"}) if "app.db" in source else frozenset()) is passes


@pytest.mark.parametrize("source,passes", [
    ("sql = 'SELECT 1'\nconn.execute(sql)\n", True),
    ("if (sql := 'SELECT 1'):\n    conn.execute(sql)\n", True),  # assigned by :=
    ("x = f'{conn.execute(\"SELECT 1\")}'\n", True),
    ("title = 'Report'\nconn.execute(stmt)\n", False),  # the string goes to another name
    ("stmt = select(User)\nconn.execute(stmt, {'a': 'b'})\n", False),
])
def test_string_execute_needs_the_executed_name_assigned_a_string(source, passes):
    assert _passes("SLA402", _CONNECTION + source) is passes


def test_string_execute_needs_a_session_connection_or_engine():
    # alembic's ``op.execute("...")`` in a migration: nothing names a Session or an Engine.
    assert not _passes("SLA402", "from alembic import op\nop.execute('DROP TABLE t')\n")
    assert _passes("SLA402", "db.session.execute('SELECT 1')\n")  # Flask-SQLAlchemy
    assert _passes("SLA402", "import sqlalchemy as sa\nwith sa.create_engine(u).connect() as c:\n"
                             "    c.execute('SELECT 1')\n")


@pytest.mark.parametrize("body,passes", [
    ("return Event.query.order_by(Event.id).options(x).all()", True),
    ("return session.query(Event).filter(Event.a).order_by(Event.id).all()", False),
    ("for e in Event.query.filter_by(a=1).order_by(Event.id):\n        pass", False),
    ("for e in Event.query.join(Other).order_by(Event.id):\n        pass", True),
    ("return session.execute(select(Event).where(x)).scalars().unique().all()", True),  # the origin
    ("return Event.query.order_by(Event.id).custom().all()", False),  # a method the reader refuses
])
def test_unbounded_load_reads_back_through_neutral_methods(body, passes):
    # ``.query(``/``.execute(`` start a chain only on a Session (``session`` here).
    assert _passes("SLA301", f"def f(session):\n    {body}\n", _EVENT) is passes


@pytest.mark.parametrize("body,passes", [
    ("for row in conn.execute(query):\n        pass", False),  # no Session anywhere
    ("return ', '.join(e.name for e in events)", False),  # str.join
    ("return f'{x}'.join(y).all()", False),
    ("return Event.query.order_by(Event.id).all()", True),  # Flask-SQLAlchemy: no Session needed
])
def test_unbounded_load_needs_a_session_for_a_session_origin(body, passes):
    assert _passes("SLA301", f"def f(conn, events, query):\n    {body}\n    for y in z: pass\n", _EVENT) is passes


def test_commented_out_code_does_not_make_the_search_exponential():
    # Each commented-out line holding a ``)`` gave the raw pattern of a shape two ways to
    # read it (the comment whole, or up to the ``)`` and the ``)`` as code): 40 lines after
    # a string never finished. Found on a real test module (a block of commented-out calls).
    import signal

    def too_slow(*_):
        raise TimeoutError("the prefilter's search backtracks exponentially")

    source = _CONNECTION + "session.execute(text('SELECT 1'))\nx = 'a'\n" + "    #     )\n" * 40 + "y = 1\n"
    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(10)  # a bound for a hang, not a timing: the search takes milliseconds
    try:
        assert not _passes("SLA401", source)
        assert _passes("SLA401", source + "session.execute(text('SELECT ' + x))\n")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
