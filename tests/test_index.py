"""The project index: cross-module facts, with path and line, for mini projects in fixtures/."""
import functools
import os
import shutil
from pathlib import Path

import libcst as cst
import pytest

from sqlalint.config import Settings
from sqlalint.engine import lint_source
from sqlalint.index import ProjectIndex, _value_key, project_index
from sqlalint.infer import Inference, Kind
from sqlalint.model import Model

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "index"


@functools.lru_cache(maxsize=None)
def index_of(name: str) -> ProjectIndex:
    return project_index(Settings(root=FIXTURES / name), no_cache=True)


@pytest.fixture(autouse=True)
def at_fixtures(monkeypatch):
    monkeypatch.chdir(FIXTURES)  # paths are shown relative to the working folder


def where(value):
    return (value.kind, value.name, value.path, value.line)


def test_definitions_with_path_and_line():
    index = index_of("flat")
    db = "flat/app/db.py"
    assert where(index.lookup("app.db.engine")) == (Kind.ENGINE, "engine", db, 7)
    assert where(index.lookup("app.db.SessionLocal")) == (Kind.SESSION_FACTORY, "SessionLocal", db, 8)
    assert where(index.lookup("app.db.registry")) == (Kind.SCOPED_REGISTRY, "registry", db, 9)
    factory = index.lookup("app.db.AsyncSessionLocal")
    assert (factory.is_async, factory.detail) == (True, "async_sessionmaker")
    get_db = index.lookup("app.db.get_db")
    assert where(get_db) == (Kind.FUNCTION, "get_db", db, 14)
    assert get_db.returns is None and get_db.yields.kind is Kind.SESSION
    assert get_db.yields.factory.name == "SessionLocal"
    assert index.lookup("app.db.new_session").returns.kind is Kind.SESSION  # from `-> Session`
    assert index.lookup("app.db.get_engine").returns.kind is Kind.ENGINE
    assert index.lookup("app.db.helper") is None  # a function that gives nothing known
    assert index.lookup("app.db.DATABASE_URL") is None


def test_relative_imports_aliases_and_reexports():
    index = index_of("flat")
    for name in ("app.Maker", "app.database.SessionLocal", "app.relative.SL", "app.relative.database.SessionLocal"):
        assert where(index.lookup(name)) == (Kind.SESSION_FACTORY, "SessionLocal", "flat/app/db.py", 8), name
    one = index.lookup("app.relative.one")  # a file that never names SQLAlchemy: found by the fixpoint
    assert b"sqlalchemy" not in (FIXTURES / "flat/app/relative.py").read_bytes()
    assert where(one) == (Kind.FUNCTION, "one", "flat/app/relative.py", 8)
    assert one.returns.factory.path == "flat/app/db.py"
    assert {"SessionLocal", "Maker", "get_db", "engine"} <= set(index.trigger_names())


def test_conditional_definitions_and_import_cycles_are_unknown():
    index = index_of("flat")
    assert index.lookup("app.conditional.SessionLocal") is None  # try/except ImportError
    assert index.lookup("app.conditional.Factory") is None  # if/else
    assert index.lookup("app.conditional.cached") is None
    assert index.lookup("app.cycle_a.Other") is None  # a -> b -> a: no hang, unknown
    assert index.lookup("app.cycle_b.Thing") is None
    assert index.lookup("app.cycle_b.SessionLocal").kind is Kind.SESSION_FACTORY


def test_registry_removed_through_an_alias():
    index = index_of("flat")
    assert index.registry_removed("app.db.registry")
    assert index.registry_removed("app.web.Registry")  # the same registry, imported
    assert index.removals("app.db.registry") == [("flat/app/web.py", 5)]
    assert not index.registry_removed("app.db.SessionLocal")


def test_models_and_tables():
    flat, flask, src = index_of("flat"), index_of("flaskapp"), index_of("srclayout")
    assert where(flat.lookup("app.models.Base")) == (Kind.BASE, "Base", "flat/app/models.py", 4)
    assert flat.lookup("app.models.User").table == "users"
    assert flat.lookup("app.models.Admin").table == "users"  # single-table inheritance
    role = flask.lookup("webapp.models.UserRole")
    assert (role.kind, role.flask, role.table) == (Kind.MODEL, True, "user_role")
    assert flask.lookup("webapp.models.Named").table == "named_things"
    assert flask.lookup("webapp.db").kind is Kind.FLASK_DB
    assert src.lookup("shop.database.Hero").table == "hero"


def test_src_layout_and_namespace_packages():
    src = index_of("srclayout")
    assert where(src.lookup("shop.database.engine")) == (Kind.ENGINE, "engine", "srclayout/src/shop/database.py", 3)
    assert src.lookup("shop.api.session_dependency").returns.kind is Kind.SESSION
    ns = index_of("namespace")
    assert where(ns.lookup("ns.store.db.SessionLocal")) == (
        Kind.SESSION_FACTORY, "SessionLocal", "namespace/ns/store/db.py", 3)


SINGLE = '''\
from contextlib import contextmanager
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.ext.asyncio import async_scoped_session, async_sessionmaker, create_async_engine
from flask_sqlalchemy import SQLAlchemy

engine = sa.create_engine("sqlite://")
aengine = create_async_engine("sqlite+aiosqlite://")
Factory = sessionmaker(engine)
AFactory = async_sessionmaker(aengine)
registry = scoped_session(Factory)
aregistry = async_scoped_session(AFactory, scopefunc=id)
global_session = Factory()
from_registry = registry()
db = SQLAlchemy()
twice = Factory
twice = None

def get_db():
    s = Factory()
    try:
        yield s
    finally:
        s.close()

async def aget():
    async with AFactory() as session:
        yield session

def annotated() -> Session:
    return unknown()

def engine_again():
    return engine

@contextmanager
def scope():
    with Factory() as session:
        yield session

def from_scope():
    with scope() as session:
        return session

def flask_session():
    return db.session

def flask_engine():
    return db.engine

class Base(DeclarativeBase):
    pass

class Thing(Base):
    __tablename__ = "things"
    id = sa.Column(sa.Integer, primary_key=True)

class Sub(Thing):
    pass

class Page(db.Model):
    id = db.Column(db.Integer, primary_key=True)
'''


def test_values_match_single_file_inference(tmp_path):
    """A name imported from another module is what inference makes of it locally."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "defs.py").write_text(SINGLE)
    index = project_index(Settings(root=tmp_path), no_cache=True)
    model = Model(cst.parse_module(SINGLE), "app.defs")
    inference = Inference(model)
    names = [n for n in model.root.bindings if model.root.bindings[n][0].kind != "import"]
    compared = 0
    nodes = [cst.Name(name) for name in names]  # kept alive: inference memoises by id()
    for name, node in zip(names, nodes):
        local = inference.infer(node, model.root)
        if local is not None and local.kind is Kind.FUNCTION and local.returns is None and local.yields is None:
            local = None  # the index lists only functions that give something known
        assert _value_key(index.lookup(f"app.defs.{name}")) == _value_key(local), name
        compared += local is not None
    assert compared == 21


def _project(tmp_path, files):
    (tmp_path / "pyproject.toml").write_text("")
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_configured_factories_work_across_modules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, {
        "app/__init__.py": "from .factories import make_session, make_engine\n",
        "app/factories.py": "from vendor import build\nmake_session = build()\nmake_engine = build()\n",
        "app/use.py": ("import functools\nfrom app import make_session, make_engine\n\n"
                       "@functools.lru_cache\ndef cached():\n    return make_session()\n\n"
                       "@functools.lru_cache\ndef cached_engine():\n    return make_engine()\n"),
    })
    settings = Settings(root=tmp_path, select=("SLA201",), session_factories=frozenset({"app.factories.make_session"}),
                        engine_factories=frozenset({"app.factories.make_engine"}))
    index = project_index(settings, no_cache=True)
    assert index.lookup("app.make_session").detail == "session factory (configured)"
    assert index.lookup("app.use.cached").returns.kind is Kind.SESSION
    assert index.lookup("app.use.cached_engine").returns.kind is Kind.ENGINE
    source = (tmp_path / "app/use.py").read_text()
    result = lint_source(source, "app/use.py", settings, index, "app.use")
    assert [(d.code, d.line) for d in result.diagnostics] == [("SLA201", 4)]
    # Without the index, the re-exported name is unknown: silent.
    assert lint_source(source, "app/use.py", settings, None, "app.use").diagnostics == []


def test_cache_is_keyed_by_content(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, {"app/__init__.py": "",
                        "app/db.py": "from sqlalchemy.orm import sessionmaker\nS = sessionmaker()\n"})
    settings = Settings(root=tmp_path)
    first = project_index(settings)
    cached = list((tmp_path / ".sqlalint_cache" / "index").rglob("*.json"))
    assert len(cached) == 1
    second = project_index(settings)
    assert second.fingerprint() == first.fingerprint()
    assert second.lookup("app.db.S").kind is Kind.SESSION_FACTORY
    (tmp_path / "app/db.py").write_text("from sqlalchemy import create_engine\nS = create_engine('x')\n")
    third = project_index(settings)
    assert third.lookup("app.db.S").kind is Kind.ENGINE
    assert third.fingerprint() != first.fingerprint()
    shutil.rmtree(tmp_path / ".sqlalint_cache")
    project_index(settings, no_cache=True)
    assert not (tmp_path / ".sqlalint_cache").exists()


def test_check_one_file_uses_the_whole_project(cli):
    code, out, err = cli("check", "--isolated", "--select", "SLA201", "app/cached.py", cwd=FIXTURES / "flat")
    assert code == 1, err
    lines = [line for line in out.splitlines() if "SLA201" in line]
    assert len(lines) == 1
    assert lines[0].startswith("app/cached.py:6:1: SLA201 ")
    assert "`SessionLocal` is a sessionmaker, app/db.py:8" in lines[0]


_DEPS = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite://"))


def get_db():
    return SessionLocal()
"""
# Never says "session": what opens one is a project name (the index's).
_VIEWS = """\
import app.deps as deps
from app.deps import get_db

db = get_db()


def cold():
    return 1


def by_name():
    db = get_db()
    return db.execute("select 1")


def through_the_module():
    db = deps.get_db()
    return db.execute("select 1")
"""


@pytest.mark.parametrize("pruning", ["", "0"])
def test_a_project_opener_counts_as_a_trigger(tmp_path, cli, pruning):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "deps.py").write_text(_DEPS)
    (tmp_path / "app" / "views.py").write_text(_VIEWS)
    env = {"SQLALINT_NO_PRUNING": "1"} if pruning == "0" else {}
    code, out, err = cli("check", "--isolated", "--no-cache", "--select", "SLA202,SLA204",
                         "--output-format", "json", "app/views.py", cwd=tmp_path, env=env)
    assert code == 1, err
    import json

    found = [(d["code"], d["location"]["row"], d["location"]["column"]) for d in json.loads(out)]
    assert found == [("SLA202", 4, 1), ("SLA204", 12, 5), ("SLA204", 17, 5)]
    message = json.loads(out)[2]["message"]
    assert message.startswith("`db` is a Session opened by `deps.get_db()` (`get_db` is a function that returns "
                              "a Session, app/deps.py:7) in `through_the_module`")


def test_openers_are_what_gives_a_session_when_called(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "deps.py").write_text(_DEPS + "ENGINE = create_engine('sqlite://')\n\n\ndef engine():\n"
                                              "    return ENGINE\n\n\ndef maker():\n    return SessionLocal\n")
    index = project_index(Settings(root=tmp_path, session_factories=frozenset({"lib.make"})), no_cache=True)
    # An engine gives no Session: a file that only names one is not worth SLA204's parse.
    assert index.opener_names() == ("SessionLocal", "get_db", "make", "maker")
    assert set(index.trigger_names()) >= {"ENGINE", "engine", "SessionLocal", "get_db", "maker"}


def test_conditional_import_stays_silent(cli):
    code, out, err = cli("check", "--isolated", "--select", "SLA201", "app/conditional.py", cwd=FIXTURES / "flat")
    assert (code, err) == (0, "")


def test_index_command(cli):
    code, out, err = cli("index", "--no-cache", cwd=FIXTURES / "flat")
    assert code == 0, err
    lines = out.splitlines()
    assert "app/__init__.py:1: app.Maker: a sessionmaker (re-exported from app/db.py:8)" in lines
    assert "app/db.py:9: app.db.registry: a scoped_session registry; .remove() at app/web.py:5" in lines
    assert "app/db.py:14: app.db.get_db: a function that yields a Session" in lines
    assert "app/models.py:8: app.models.User: a mapped model (table users)" in lines
    assert not any("conditional" in line or "cycle" in line for line in lines)
    assert "17 names from 9 of 9 files" in err


def test_summary_shortcuts_see_what_a_full_walk_sees():
    # A walrus and a yield inside expressions, and a ``.remove()`` with only a comment in
    # its parentheses: the byte checks that skip walks must still let these be found.
    from sqlalint.index import summarize

    summary = summarize(b"if (n := 1):\n    pass\n"
                        b"def gen():\n    x = (yield make())\n"
                        b"def stop():\n    registry.remove(  # all of it\n    )\n    items.remove(1)\n")
    assert summary["bind"]["n"] == ["x"]
    assert summary["bind"]["gen"][1]["has_yield"] and summary["bind"]["gen"][1]["yields"] == [["c", ["n", "make"]]]
    assert summary["removes"] == [[["n", "registry"], 6]]
    plain = summarize(b"def f():\n    items.remove(1)\n    return (a := 2)\n")
    assert plain["removes"] == [] and plain["bind"]["f"][1]["locals"] == {"a": ["v", None]}


def _facts_key(index):
    return [(q, _value_key(v), p, line, imported) for q, v, p, line, imported in index.facts()]


def _fresh_facts(index):
    """The facts of ``index`` evaluated from scratch (nothing kept from earlier rounds)."""
    for memo in (index._memo, index._lookup_memo, index._split_memo, index._readers, index._split_readers):
        memo.clear()
    index._tainted.clear()
    index._facts = None
    return _facts_key(index)


@pytest.mark.parametrize("name", ["flat", "flaskapp", "srclayout", "namespace", "rounds"])
def test_answers_kept_between_rounds_match_a_fresh_evaluation(name):
    index = project_index(Settings(root=FIXTURES / name), no_cache=True)
    assert _facts_key(index) == _fresh_facts(index)


def test_later_rounds_change_the_answers_they_can_affect(monkeypatch):
    # Round 1 indexes the files naming SQLAlchemy; `pkg.use` then reads `pkg.factory` and
    # (through `pkg`'s star import) `pkg.custom`: modules of the project not indexed yet,
    # so unknown (not looked for in their parent package). Round 2 adds them: the answers
    # that read them are recomputed, the others kept.
    rounds, made, memos = [], [], []
    original = ProjectIndex._add_round

    def add_round(self, wanted, *args):
        rounds.append(sorted(path.relative_to(self.root).as_posix() for path, _ in wanted))
        made.append(self._lookup_memo.get("pkg.use.Made", "not asked"))
        memos.append(dict(self._memo))
        return original(self, wanted, *args)

    monkeypatch.setattr(ProjectIndex, "_add_round", add_round)
    index = project_index(Settings(root=FIXTURES / "rounds"), no_cache=True)
    assert rounds == [["pkg/__init__.py", "pkg/maker.py", "pkg/use.py"], ["pkg/custom/__init__.py", "pkg/factory.py"]]
    assert made == ["not asked", None]  # unknown after round 1
    assert where(index.lookup("pkg.use.Made")) == (Kind.SESSION_FACTORY, "Made", "rounds/pkg/use.py", 6)
    assert where(index.lookup("pkg.use.connection")) == (Kind.CONNECTION, "connection", "rounds/pkg/use.py", 7)
    assert index.lookup("pkg.engine").kind is Kind.ENGINE
    engine = ("rounds/pkg/__init__.py", "engine")
    assert index._memo[engine] is memos[1][engine]  # kept from round 1: nothing new can change it
    assert ("rounds/pkg/use.py", "connection") not in memos[1] or \
        index._memo[("rounds/pkg/use.py", "connection")] is not memos[1][("rounds/pkg/use.py", "connection")]


@pytest.mark.parametrize("name", ["flat", "flaskapp", "rounds"])
def test_summaries_in_a_pool_give_the_same_index(name, monkeypatch, tmp_path):
    import sqlalint.index as index_module

    pooled = []
    exit_ = index_module._Summarizer.__exit__

    def spy_exit(self, *exc):
        pooled.append(self._pool is not None)
        return exit_(self, *exc)

    monkeypatch.setattr(index_module._Summarizer, "__exit__", spy_exit)
    monkeypatch.setattr(index_module, "POOL_MIN_SUMMARIES", 1)
    settings = Settings(root=FIXTURES / name)
    one = project_index(settings, no_cache=True, jobs=1)
    many = project_index(settings, no_cache=True, jobs=2)
    cached = project_index(settings, cache_dir=tmp_path, jobs=2)  # misses computed by the pool
    again = project_index(settings, cache_dir=tmp_path, jobs=2)  # all from the cache: no pool
    assert pooled == [False, True, True, False]
    # What the building process does while the pool parses: once, and only with a pool.
    done = []
    for jobs, expected in ((1, []), (2, [os.getpid()])):
        index_module.ProjectIndex.build(FIXTURES / name, sorted((FIXTURES / name).rglob("*.py")), jobs=jobs,
                                        meanwhile=lambda: done.append(os.getpid()))
        assert done == expected
    assert _facts_key(one) == _facts_key(many) == _facts_key(cached) == _facts_key(again)
    assert one.fingerprint() == many.fingerprint() == again.fingerprint()
    assert (one.files_parsed, one.files_total) == (many.files_parsed, many.files_total)


def test_package_names_share_folder_lookups_and_follow_file_links(tmp_path):
    from sqlalint.index import _package_name

    _project(tmp_path, {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/mod.py": "", "loose/x.py": ""})
    (tmp_path / "pkg" / "link.py").symlink_to(tmp_path / "pkg" / "sub" / "mod.py")
    folders = {}
    assert _package_name(tmp_path / "pkg/sub/mod.py", folders) == ("pkg.sub.mod", False)
    assert _package_name(tmp_path / "pkg/sub/__init__.py", folders) == ("pkg.sub", True)
    assert _package_name(tmp_path / "pkg/link.py", folders) == ("pkg.sub.mod", False)
    assert _package_name(tmp_path / "loose/x.py", folders) == ("x", False)
    assert set(folders) == {tmp_path / "pkg/sub", tmp_path / "loose"}
    assert _package_name(tmp_path / "pkg/sub/mod.py") == ("pkg.sub.mod", False)  # without a shared memo


def test_statement_walk_meets_the_statements_of_a_full_walk_in_order():
    import ast

    from sqlalint.index import _walk_scope

    source = '''
def f(x):
    for a, b in x:
        with open(a) as fh, g() as (c, d):
            try:
                y = 1
            except E as e:
                z: int = 2
            else:
                import os
            finally:
                global q
    else:
        match x:
            case [1, w]:
                return w
            case _ if x:
                def inner(): return 1
    while x:
        class K: pass
        x -= 1
    return lambda: (yield)
'''
    body = ast.parse(source).body[0].body
    kinds = (ast.stmt, ast.excepthandler, ast.match_case)
    full = [node for node in _walk_scope(body, True) if isinstance(node, kinds)]
    fast = list(_walk_scope(body, False))
    assert fast == full and len(fast) == 15  # nested def and class: scopes of their own


def _index_of_project(root: Path, files: dict[str, str]) -> ProjectIndex:
    _project(root, files)
    return project_index(Settings(root=root), no_cache=True)


def _indexed(index: ProjectIndex) -> list[str]:
    return sorted(module.path for module in index.modules.values())


def test_later_rounds_index_what_names_a_fact_or_star_imports_its_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    index = _index_of_project(tmp_path, {
        "app/__init__.py": "",
        "app/db.py": "from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker()\n",
        # Names no fact: star-imports the module holding one (over a continuation line).
        "app/api/__init__.py": "from app.db \\\n    import *  # noqa: F403\n",
        "app/api/users.py": "from app.api import SessionLocal\n\nMaker = SessionLocal\n",
        # Says `db` (the last part of a module holding a fact), but binds nothing from it.
        "app/notes.py": "db = 'the database'\nimport app.db\n",
        # Reaches the fact as an attribute of its module.
        "app/alias.py": "import app.db\n\nMaker = app.db.SessionLocal\n",
        # Says `SessionLocal`, but its own: not imported, not an attribute.
        "app/local.py": "def SessionLocal():\n    return 1\n\nsession = SessionLocal()\n",
    })
    assert _indexed(index) == ["app/alias.py", "app/api/__init__.py", "app/api/users.py", "app/db.py"]
    assert where(index.lookup("app.alias.Maker")) == (Kind.SESSION_FACTORY, "Maker", "app/alias.py", 3)
    assert where(index.lookup("app.api.SessionLocal")) == (Kind.SESSION_FACTORY, "SessionLocal", "app/db.py", 3)
    assert where(index.lookup("app.api.users.Maker")) == (Kind.SESSION_FACTORY, "Maker", "app/api/users.py", 3)


def test_an_import_of_a_facts_name_counts_only_from_where_it_can_be_that_fact(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    index = _index_of_project(tmp_path, {
        "app/__init__.py": "",
        "app/models.py": "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n\n\n"
                         "class Flow(Base):\n    __tablename__ = 'flow'\n",
        # Its own `Flow` (not a model): importing it binds no fact.
        "app/schemas.py": "class Flow:\n    pass\n",
        "app/api.py": "from app.schemas import Flow\n",
        "app/cli.py": "from click import Flow\n",  # not the project's
        # Say `from app.models import Flow` only in a docstring and a comment.
        "app/docs.py": '"""\nfrom app.models import Flow\n"""\n# from app.models import Flow\nFlow = 1\n',
        # A chain of re-exports through modules that name no SQLAlchemy: one more round.
        "app/public/__init__.py": "from app.public.reexport import Flow\n",
        "app/public/reexport.py": "from ..models import Flow\n",
        "app/use.py": "from app.public import Flow\n",
    })
    assert _indexed(index) == ["app/models.py", "app/public/__init__.py", "app/public/reexport.py", "app/use.py"]
    assert where(index.lookup("app.use.Flow")) == (Kind.MODEL, "Flow", "app/models.py", 8)


def test_files_waiting_on_a_module_are_indexed_with_it(tmp_path, monkeypatch):
    rounds = []
    original = ProjectIndex._add_round

    def add_round(self, wanted, *args):
        rounds.append(sorted(path.relative_to(self.root).as_posix() for path, _ in wanted))
        return original(self, wanted, *args)

    monkeypatch.setattr(ProjectIndex, "_add_round", add_round)
    monkeypatch.chdir(tmp_path)
    index = _index_of_project(tmp_path, {
        "db.py": "from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker()\n",
        "a.py": "from db import SessionLocal\n",
        "b.py": "from a import SessionLocal\n",  # waits on a.py, wanted this round: with it
        "c.py": "from b import SessionLocal as Maker\n",
        "d.py": "from nowhere import SessionLocal\n",
    })
    assert rounds == [["db.py"], ["a.py", "b.py", "c.py"]]
    assert where(index.lookup("c.Maker")) == (Kind.SESSION_FACTORY, "SessionLocal", "db.py", 3)


def test_what_may_bind_a_fact_is_read_from_the_bytes_then_from_the_code():
    from sqlalint.index import _MayBind

    asked = []

    def gives(importer, is_package, level, module, name):
        asked.append((importer, is_package, level, module, name))
        return {"app.db": True, "app.pending": "app.pending"}.get(module, False)

    names_of = {Path("app/m.py"): (("app.m", False), ("", False))}

    def answer(text, exact=True):
        return _MayBind({"SessionLocal"}, set(), {}, gives, names_of)((Path("app/m.py"), text), exact=exact)

    assert answer(b"from app.db import SessionLocal") is True
    assert answer(b"from app.db import (\n    x,  # a comment\n    SessionLocal as S,\n)") is True
    assert answer(b"from app . db import x, \\\n    SessionLocal") is True
    assert answer(b"from app.other import SessionLocal") is False
    assert answer(b"from app.pending import SessionLocal") == frozenset({"app.pending"})
    assert answer(b"from .. import SessionLocal") is False
    assert asked[-1] == ("app.m", False, 2, "", "SessionLocal")
    # Not read to the letter (another statement before it on its line): it may.
    assert answer(b"x = 1; from app.other import SessionLocal") is True
    assert answer(b"import app.db as SessionLocal") is True
    # In a docstring: the bytes say it, the code does not.
    docstring = b'"""\nfrom app.db import SessionLocal\nx = db.SessionLocal\n"""\n'
    assert answer(docstring, exact=False) is True
    assert answer(docstring) is False


def test_a_name_under_a_module_not_indexed_is_unknown(tmp_path, monkeypatch):
    # `pkg.tools.Maker`: pkg/tools.py binds no `Maker`, and is not indexed (it names no
    # fact). Its parent package must not answer for it: through `pkg`'s star import,
    # `pkg.impl.tools` is `other.tools`, which does bind a sessionmaker `Maker`.
    monkeypatch.chdir(tmp_path)
    index = _index_of_project(tmp_path, {
        "pkg/__init__.py": "import sqlalchemy\n\nfrom .impl import *  # noqa: F403\n",
        "pkg/impl.py": "import sqlalchemy\n\nfrom other import tools\n",
        "pkg/tools.py": "VERSION = 1\n",
        "other/__init__.py": "",
        "other/tools.py": "from sqlalchemy.orm import sessionmaker\n\nMaker = sessionmaker()\n",
    })
    assert "pkg/tools.py" not in _indexed(index)
    assert index.lookup("other.tools.Maker").kind is Kind.SESSION_FACTORY
    assert index.lookup("pkg.tools.Maker") is None


def test_star_imports_of_modules_holding_facts():
    from sqlalint.index import _MayBind

    def may_bind(names, modules, text):
        return _MayBind(names, modules, {})((Path("m.py"), text))

    for text in (b"from app.db import *", b"from .db import*", b"from db import (*)", b"from app . db import *",
                 b"x = 1; from app.db import *", b"from app.db \\\r\n import \\\n *"):
        assert may_bind(set(), {"db"}, text), text
    for text in (b"from app.dbx import *", b"from app.db import engine", b"from app.db.sub import *",
                 b"import app.db", b"db = 1", b"x.fromdb import *", b"from app.db\nimport *"):
        assert not may_bind(set(), {"db"}, text), text
    names = {"SessionLocal", "Sessión"}
    assert may_bind(names, set(), "x = Sessión()".encode())  # not ASCII: any use of its bytes


def test_later_rounds_index_what_imports_a_fact_or_reaches_it_as_an_attribute():
    from sqlalint.index import _MayBind

    def may_bind(text):
        return _MayBind({"SessionLocal", "engine"}, set(), {})((Path("m.py"), text))

    for text in (b"from app.db import SessionLocal", b"from app.db import x, SessionLocal as S",
                 b"import x; from app.db import (\n    a,  # not b)\n    engine,\n)",
                 b"from app.db import a, \\\n engine",
                 b"x = db.SessionLocal()", b"x = (db.  # why\n     engine)", b"x = db . \\\n engine",
                 b"import app.engine"):
        assert may_bind(text), text
    for text in (b"x = SessionLocal()", b"def engine(): pass", b"x = db.SessionLocalFactory()",
                 b"from app.db import Other  # SessionLocal", b"x = SessionLocal.bind",
                 b"from a import (b)\nengine = 1",
                 b"reimport engine", b"x.import engine", b"from app.db import SessionLocalFactory"):
        assert not may_bind(text), text
