"""What runs once, where a value goes (escape analysis), and the hoisting fixes."""
import libcst as cst
import pytest

from sqlalint.config import Settings
from sqlalint.context import Context
from sqlalint.engine import check_source, fix_source, parses
from sqlalint.escape import Fate, fate
from sqlalint.infer import Inference
from sqlalint.lifetime import runs_once
from sqlalint.model import Model


def context(source):
    tree = cst.parse_module(source)
    model = Model(tree, "app.db")
    return Context(source, tree, model, Inference(model), Settings(), "app/db.py")


def function(ctx, name):
    return next(s for s in ctx.model.scopes() if s.kind == "function" and s.name == name)


ONCE = """\
import functools
import pytest
from functools import cached_property

def make():
    pass

def helper():
    pass

@functools.lru_cache(maxsize=None)
def cached():
    helper()

@pytest.fixture()
def fixture():
    pass

class C:
    @cached_property
    def prop(self):
        pass

def main():
    pass

def handler():
    pass

x = make()
if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("name, reason", [
    ("make", "called at import time"),
    ("main", "called at import time"),
    ("cached", "cached by `functools.lru_cache`"),
    ("fixture", "a pytest fixture"),
    ("prop", "cached by `functools.cached_property`"),
    ("handler", None),
    ("helper", None),  # called by a cached function, but maybe by others too
])
def test_runs_once(name, reason):
    ctx = context(ONCE)
    assert runs_once(ctx, function(ctx, name)) == reason
    assert runs_once(ctx, ctx.model.root) == "module level"


FATES = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

_cache = {}

def dropped():
    e = create_engine("x")
    e.connect()

def disposed():
    e = create_engine("x")
    try:
        e.connect()
    finally:
        e.dispose()

def returned():
    e = create_engine("x")
    return e

def carried():
    return sessionmaker(bind=create_engine("x"))()

def kept(key):
    _cache[key] = create_engine("x")

def on_self(self):
    self.e = create_engine("x")

def passed(register):
    register(create_engine("x"))

def captured():
    e = create_engine("x")
    return lambda: e

def aliased():
    e = create_engine("x")
    f = e

def used_by_metadata(metadata):
    e = create_engine("x")
    metadata.create_all(e)
"""


@pytest.mark.parametrize("name, expected", [
    ("dropped", Fate.DROPPED), ("disposed", Fate.CLOSED), ("returned", Fate.RETURNED),
    ("carried", Fate.RETURNED), ("kept", Fate.KEPT), ("on_self", Fate.ESCAPES),
    ("passed", Fate.ESCAPES), ("captured", Fate.ESCAPES), ("aliased", Fate.ESCAPES),
    ("used_by_metadata", Fate.DROPPED),
])
def test_engine_fate(name, expected):
    ctx = context(FATES)
    scope = function(ctx, name)
    call = next(c for c in scope.calls
                if ctx.qualified_name(c.func, scope) == "sqlalchemy.create_engine")
    assert fate(ctx, call, ("dispose",), follow_carriers=True) is expected


def test_closing_the_carrier_does_not_dispose_the_engine():
    ctx = context("""\
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

def f():
    engine = create_engine("x")
    with Session(engine) as session:
        session.commit()
""")
    scope = function(ctx, "f")
    call = scope.calls[0]
    assert fate(ctx, call, ("dispose",), follow_carriers=True) is Fate.DROPPED


SELECT = Settings(select=("SLA101", "SLA204", "SLA206"))


def test_hoists_of_one_pass_get_distinct_names():
    source = """\
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import sessionmaker

URL = "sqlite://"
engine = create_engine(URL)


def one():
    engine = create_engine(URL)
    engine.connect()


async def two():
    engine = create_async_engine(URL)
    factory = async_sessionmaker(engine)
    async with factory() as session:
        await session.commit()


def three():
    factory = sessionmaker(bind=engine)
    factory().close()
"""
    result = fix_source(source, "app.py", SELECT, unsafe=True)
    assert parses(result.source)
    assert "ENGINE = create_engine(URL)" in result.source
    assert "ENGINE_2 = create_async_engine(URL)" in result.source
    assert "SESSION_FACTORY = sessionmaker(bind=engine)" in result.source
    assert fix_source(result.source, "app.py", SELECT, unsafe=True).source == result.source
    # the async factory is bound to a local (now `engine = ENGINE_2`): reported, not fixed
    left = check_source(result.source, "app.py", SELECT)
    assert [(d.code, d.fix) for d in left] == [("SLA206", None)]


@pytest.mark.parametrize("head", [
    '"""Docstring."""\nfrom __future__ import annotations\n',
    "",
    "# a comment\nimport os\n",
])
def test_cache_fix_adds_the_import(head):
    source = head + ("from sqlalchemy import create_engine\n\n\n"
                     "def get_engine():\n    return create_engine('x')\n")
    result = fix_source(source, "app.py", SELECT, unsafe=True)
    assert parses(result.source)
    assert "import functools\n" in result.source
    assert "@functools.cache\ndef get_engine():" in result.source
    assert result.source.count("import functools") == 1
    if head.startswith('"""'):
        assert result.source.startswith(
            '"""Docstring."""\nfrom __future__ import annotations\nimport functools\n')
    assert fix_source(result.source, "app.py", SELECT, unsafe=True).source == result.source


def test_no_cache_fix_for_async_or_decorated_factories():
    source = """\
from sqlalchemy.ext.asyncio import create_async_engine


async def get_engine():
    return create_async_engine("x")
"""
    found = check_source(source, "app.py", SELECT)
    assert [(d.code, d.line) for d in found] == [("SLA101", 5)]
    assert found[0].fix is None


def test_no_hoist_of_names_bound_under_a_block():
    source = """\
from typing import TYPE_CHECKING
from sqlalchemy import create_engine

if TYPE_CHECKING:
    from app.settings import URL


def health():
    create_engine(URL).connect()
"""
    found = check_source(source, "app.py", SELECT)
    assert [(d.code, d.line, d.column) for d in found] == [("SLA101", 9, 5)]
    assert found[0].fix is None
