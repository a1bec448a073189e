"""``sqlalint table-sizes``: row estimates of every table of a real database, as JSON.

Which tables are large is a fact about the data: SLA301 reads the file this writes (the
``table-sizes`` setting, see :func:`sqlalint.config.read_table_sizes`) and reports only
models whose table has at least ``large-table-rows`` rows. SQLAlchemy is an optional
dependency (``pip install 'sqlalint[db]'``), imported only here and only when needed.
"""
from __future__ import annotations

import json
from pathlib import Path

CONNECT_TIMEOUT = 10  # seconds, for drivers that accept ``connect_timeout``
_TIMEOUT_DRIVERS = frozenset({"psycopg2", "psycopg", "pymysql", "mysqldb"})

# PostgreSQL's planner estimate: cheap on any table size. ``reltuples`` is -1 for a table
# never vacuumed or analysed (PostgreSQL 14+); the statistics collector's live-row count
# is the next best estimate then.
_POSTGRESQL = """
SELECT n.nspname, c.relname, c.reltuples, s.n_live_tup, n.nspname = current_schema()
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%'
"""
_MYSQL = """
SELECT table_name, table_rows FROM information_schema.tables
WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'
"""


class TableSizesError(Exception):
    """A one-line reason the sizes could not be read (bad URL, server unreachable...)."""


def read_table_sizes(url: str) -> dict[str, int]:
    """Table name -> row estimate. Tables outside the default schema are ``schema.table``."""
    try:
        import sqlalchemy as sa
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
    except ImportError:
        raise TableSizesError("`sqlalint table-sizes` needs SQLAlchemy: pip install 'sqlalint[db]'") from None
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError:
        raise TableSizesError(f"not a database URL: {url!r}") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:") \
                and not Path(database).is_file():
            raise TableSizesError(f"no SQLite database file at {database}")
    try:
        timeout = parsed.get_driver_name() in _TIMEOUT_DRIVERS
        engine = sa.create_engine(parsed, connect_args={"connect_timeout": CONNECT_TIMEOUT} if timeout else {})
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise TableSizesError(f"cannot use {shown}: {_first_line(error)}") from None
    try:
        with engine.connect() as connection:
            dialect = engine.dialect.name
            if dialect == "postgresql":
                return _postgresql(connection, sa)
            if dialect in ("mysql", "mariadb"):
                rows = connection.execute(sa.text(_MYSQL))
                return {str(name): int(count or 0) for name, count in rows}
            if dialect == "sqlite":
                return _sqlite(connection, sa)
            raise TableSizesError(f"{dialect} is not supported (PostgreSQL, MySQL/MariaDB and SQLite are)")
    except SQLAlchemyError as error:
        reason = _first_line(getattr(error, "orig", None) or error)
        raise TableSizesError(f"cannot read table sizes from {shown}: {reason}") from None
    except ImportError as error:  # a DBAPI driver imported on first connect
        raise TableSizesError(f"cannot use {shown}: {_first_line(error)}") from None
    finally:
        engine.dispose()


def _postgresql(connection, sa) -> dict[str, int]:
    sizes = {}
    for schema, name, reltuples, live, default in connection.execute(sa.text(_POSTGRESQL)):
        rows = reltuples if reltuples is not None and reltuples >= 0 else (live or 0)
        sizes[name if default else f"{schema}.{name}"] = int(rows)
    return sizes


def _sqlite(connection, sa) -> dict[str, int]:
    names = sa.inspect(connection).get_table_names()
    preparer = connection.dialect.identifier_preparer
    return {name: int(connection.execute(sa.text(f"SELECT count(*) FROM {preparer.quote(name)}")).scalar() or 0)
            for name in names}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    line = text.splitlines()[0].strip() if text else ""
    return line or type(error).__name__


def to_json(sizes: dict[str, int]) -> str:
    """The file ``table-sizes`` reads: ``{"tables": {name: rows}}``, sorted, stable."""
    return json.dumps({"tables": dict(sorted(sizes.items()))}, indent=2) + "\n"
