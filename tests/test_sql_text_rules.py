"""SLA401/SLA402/SLA501 beyond their documented examples: SLA401's fix run against a real
SQLite database (same rows for a benign value; a hostile value becomes data), text() bind
detection, and the shared add_import helper."""
import textwrap

import libcst as cst
import pytest
import sqlalchemy

from sqlalint.config import Settings
from sqlalint.context import Context
from sqlalint.engine import check_source, fix_source
from sqlalint.infer import Inference
from sqlalint.model import Model
from sqlalint.sqltext import bind_names
from sqlalint.tree_edits import add_import
from sqlalint import sqla

HOSTILE = "' OR '1'='1"

QUERIES = {
    "fstring-session": """\
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

engine = create_engine(DB_URL)

def find(name):
    with Session(engine) as session:
        return session.execute(text(f"SELECT id FROM users WHERE name = '{name}' ORDER BY id")).all()
""",
    "concat-variable-connection": """\
from sqlalchemy import create_engine, text

engine = create_engine(DB_URL)

def find(name):
    sql = "SELECT id FROM users WHERE name = '" + name + "' ORDER BY id"
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()
""",
    "triple-quoted-unknown-receiver": """\
from sqlalchemy import create_engine, text

def find(name, connection=None):
    sql = f'''
        SELECT id FROM users
        WHERE name = '{name}'
        ORDER BY id
    '''
    with create_engine(DB_URL).connect() as connection:
        return connection.execute(text(sql)).all()
""",
    "percent-text-alone": """\
import sqlalchemy as sa

engine = sa.create_engine(DB_URL)

def find(name):
    query = sa.text("SELECT id FROM users WHERE name = '%s' ORDER BY id" % name)
    with engine.connect() as conn:
        return conn.execute(query).all()
""",
}


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("INSERT INTO users (name) VALUES ('alice'), ('bob'), ('carol')")
    engine.dispose()
    return url


def load(source, url):
    namespace = {"DB_URL": url}
    exec(compile(source, "example.py", "exec"), namespace)
    return namespace["find"]


@pytest.mark.parametrize("name", QUERIES)
def test_sla401_fix_binds_values_against_sqlite(name, db_url):
    before = QUERIES[name]
    settings = Settings(select=("SLA401",))
    assert [d.code for d in check_source(before, "example.py", settings)] == ["SLA401"]
    fixed = fix_source(before, "example.py", settings, unsafe=True)
    assert fixed.applied == 1 and ":name" in fixed.source
    assert check_source(fixed.source, "example.py", settings) == []
    find_before, find_after = load(before, db_url), load(fixed.source, db_url)
    assert find_before("bob") == find_after("bob") == [(2,)]
    assert find_before(HOSTILE) == [(1,), (2,), (3,)]  # the quote rewrote the statement
    assert find_after(HOSTILE) == []  # now a name nobody has


def test_identifier_positions_are_display_only():
    source = textwrap.dedent("""\
        from sqlalchemy import text
        from sqlalchemy.orm import Session

        def rows(session: Session, table, column):
            return session.execute(text(f"SELECT * FROM {table} ORDER BY {column}")).all()
    """)
    [diagnostic] = check_source(source, "example.py", Settings(select=("SLA401",)))
    assert (diagnostic.line, diagnostic.column) == (5, 12)
    assert diagnostic.fix is not None and diagnostic.fix.applicability.value == "display-only"
    assert fix_source(source, "example.py", Settings(select=("SLA401",)), unsafe=True).source == source


@pytest.mark.parametrize("sql, names", [
    ("SELECT 1", []),
    ("SELECT * FROM t WHERE a = :a AND b=:b_2", ["a", "b_2"]),
    ("SELECT x::int, '10:30', 'a\\:b'", []),
    ("SELECT :a::int", []),
])
def test_bind_names_match_text(sql, names):
    assert bind_names(sql) == names
    assert list(sqlalchemy.text(sql).compile().params) == names


def _ctx(source):
    tree = cst.parse_module(source)
    model = Model(tree)
    return Context(source, tree, model, Inference(model), Settings(), "x.py")


@pytest.mark.parametrize("source, expected_name, expected", [
    ("from sqlalchemy import text as t\nx = 1\n", "t", None),
    ("import sqlalchemy as sa\n", "sa.text", None),
    ("from sqlalchemy import select\n", "text", "from sqlalchemy import select, text\n"),
    ("from sqlalchemy import (\n    select,\n    func,\n)\n", "text",
     "from sqlalchemy import (\n    select,\n    func,\n    text,\n)\n"),
    ('"""Doc."""\nimport os\n\nx = 1\n', "text", '"""Doc."""\nimport os\nfrom sqlalchemy import text\n\nx = 1\n'),
    ("# header\nx = 1\n", "text", "# header\nfrom sqlalchemy import text\nx = 1\n"),
    ("text = 'clash'\n", None, None),
    ("from sqlalchemy import (  # core\n    select,\n)\n", "text",
     "from sqlalchemy import (  # core\n    select,\n)\nfrom sqlalchemy import text\n"),
    ("from sqlalchemy.sql import text\nimport sqlalchemy\n", "text", None),
    ("import sqlalchemy\n\ndef f():\n    text = 1\n", "sqlalchemy.text", None),
])
def test_add_import(source, expected_name, expected):
    ctx = _ctx(source)
    found = add_import(ctx, "sqlalchemy", "text", sqla.TEXT_CONSTRUCTORS, ctx.model.root)
    if expected_name is None:
        assert found is None
        return
    name, change = found
    assert name == expected_name
    if expected is None:
        assert change is None
    else:
        old, new = change
        assert ctx.tree.deep_replace(old, new).code == expected
