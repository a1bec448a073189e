"""`sqlalint table-sizes` against real databases (a SQLite file, a PostgreSQL server started
by pgserver), and SLA301 driven by the sizes it writes."""
import json
import shutil
import sqlite3
import tempfile
import textwrap

import pytest

from sqlalint import table_sizes
from sqlalint.config import read_table_sizes


def make_sqlite(path, tables):
    connection = sqlite3.connect(path)
    for name, rows in tables.items():
        connection.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, kind TEXT)")
        connection.executemany(f"INSERT INTO {name} (kind) VALUES (?)", [("k",)] * rows)
    connection.commit()
    connection.close()


def test_sqlite_counts_rows_into_a_file(cli, tmp_path):
    make_sqlite(tmp_path / "app.db", {"events": 20000, "countries": 3})
    out = tmp_path / "sizes.json"
    code, stdout, stderr = cli("table-sizes", "--url", f"sqlite:///{tmp_path / 'app.db'}", "-o", out)
    assert (code, stdout, stderr) == (0, "", "")
    assert json.loads(out.read_text()) == {"tables": {"countries": 3, "events": 20000}}
    assert dict(read_table_sizes(out, "test")) == {"countries": 3, "events": 20000}
    code, stdout, stderr = cli("table-sizes", "--url", f"sqlite:///{tmp_path / 'app.db'}")
    assert (code, stderr) == (0, "")
    assert stdout == out.read_text()


@pytest.mark.parametrize("url, reason", [
    ("not a url", "sqlalint: error: not a database URL: 'not a url'"),
    ("nosuchdb://u@localhost/x", "sqlalint: error: cannot use nosuchdb://u@localhost/x: "
                                 "Can't load plugin: sqlalchemy.dialects:nosuchdb"),
    ("postgresql://app:secret@127.0.0.1:1/app", "sqlalint: error: cannot read table sizes from "
                                                "postgresql://app:***@127.0.0.1:1/app: connection failed:"),
])
def test_bad_url_or_unreachable_server_exits_2_with_one_line(cli, url, reason):
    code, stdout, stderr = cli("table-sizes", "--url", url)
    assert code == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr
    assert stderr.startswith(reason)
    assert "secret" not in stderr


def test_missing_sqlite_file_is_not_created(cli, tmp_path):
    code, stdout, stderr = cli("table-sizes", "--url", f"sqlite:///{tmp_path / 'missing.db'}")
    assert (code, stdout) == (2, "")
    assert stderr == f"sqlalint: error: no SQLite database file at {tmp_path / 'missing.db'}\n"
    assert not (tmp_path / "missing.db").exists()


@pytest.fixture(scope="module")
def postgres():
    pgserver = pytest.importorskip("pgserver")
    folder = tempfile.mkdtemp(prefix="sqlalint-pg")  # short: the socket path has a length limit
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def test_postgresql_reports_reltuples_after_analyze(postgres):
    postgres.psql(textwrap.dedent("""\
        CREATE TABLE events (id serial PRIMARY KEY, kind text);
        INSERT INTO events (kind) SELECT 'k' FROM generate_series(1, 5000);
        CREATE SCHEMA audit;
        CREATE TABLE audit.logs (id int);
        INSERT INTO audit.logs SELECT generate_series(1, 30);
        ANALYZE;
    """))
    tables = table_sizes.read_table_sizes(postgres.get_uri())
    assert tables["events"] == 5000
    assert tables["audit.logs"] == 30


MODELS = """\
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SessionLocal = sessionmaker()


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)


class Country(Base):
    __tablename__ = "countries"
    id: Mapped[int] = mapped_column(primary_key=True)


def export():
    with SessionLocal() as session:
        events = session.query(Event).all()
        countries = session.query(Country).all()
        return events, countries
"""


def test_sla301_reports_only_the_large_table(cli, tmp_path):
    make_sqlite(tmp_path / "app.db", {"events": 20000, "countries": 3})
    assert cli("table-sizes", "--url", f"sqlite:///{tmp_path / 'app.db'}", "-o", tmp_path / "sizes.json")[0] == 0
    (tmp_path / "pyproject.toml").write_text('[tool.sqlalint]\ntable-sizes = "sizes.json"\n')
    (tmp_path / "app.py").write_text(MODELS)
    code, stdout, stderr = cli("check", "--select", "SLA301", "--output-format", "json", "app.py", cwd=tmp_path)
    found = [(d["code"], d["location"]["row"], d["location"]["column"]) for d in json.loads(stdout)]
    assert (code, found) == (1, [("SLA301", 22, 18)])
    assert "(table `events`, 20000 rows per table-sizes)" in json.loads(stdout)[0]["message"]
    # Without the sizes, every mapped model counts as large.
    code, stdout, _ = cli("check", "--isolated", "--select", "SLA301", "--output-format", "json", "app.py",
                          cwd=tmp_path)
    assert [d["location"]["row"] for d in json.loads(stdout)] == [22, 23]
