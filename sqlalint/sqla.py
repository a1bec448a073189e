"""The SQLAlchemy, SQLModel and Flask-SQLAlchemy names the rules know, by what they make.

Every public spelling of one API maps to one entry here, so a rule asks "is this an engine
constructor?" and never compares spellings itself.
"""
from __future__ import annotations

ENGINE_CONSTRUCTORS = frozenset({
    "sqlalchemy.create_engine",
    "sqlalchemy.engine.create_engine",
    "sqlalchemy.engine.create.create_engine",
    "sqlalchemy.engine_from_config",
    "sqlalchemy.engine.engine_from_config",
    "sqlalchemy.engine.create.engine_from_config",
    "sqlmodel.create_engine",
    "sqlmodel.engine.create.create_engine",
})
ASYNC_ENGINE_CONSTRUCTORS = frozenset({
    "sqlalchemy.ext.asyncio.create_async_engine",
    "sqlalchemy.ext.asyncio.engine.create_async_engine",
    "sqlalchemy.ext.asyncio.async_engine_from_config",
    "sqlalchemy.ext.asyncio.engine.async_engine_from_config",
})
SESSIONMAKERS = frozenset({
    "sqlalchemy.orm.sessionmaker",
    "sqlalchemy.orm.session.sessionmaker",
})
ASYNC_SESSIONMAKERS = frozenset({
    "sqlalchemy.ext.asyncio.async_sessionmaker",
    "sqlalchemy.ext.asyncio.session.async_sessionmaker",
})
SCOPED_SESSIONS = frozenset({
    "sqlalchemy.orm.scoped_session",
    "sqlalchemy.orm.scoping.scoped_session",
    "sqlalchemy.ext.asyncio.async_scoped_session",
    "sqlalchemy.ext.asyncio.scoping.async_scoped_session",
})
SESSION_CLASSES = frozenset({
    "sqlalchemy.orm.Session",
    "sqlalchemy.orm.session.Session",
    "sqlmodel.Session",
    "sqlmodel.orm.session.Session",
})
ASYNC_SESSION_CLASSES = frozenset({
    "sqlalchemy.ext.asyncio.AsyncSession",
    "sqlalchemy.ext.asyncio.session.AsyncSession",
    "sqlmodel.ext.asyncio.session.AsyncSession",
})
FLASK_SQLALCHEMY = frozenset({
    "flask_sqlalchemy.SQLAlchemy",
    "flask_sqlalchemy.extension.SQLAlchemy",
})
DECLARATIVE_BASE_FUNCTIONS = frozenset({
    "sqlalchemy.orm.declarative_base",
    "sqlalchemy.orm.decl_api.declarative_base",
    "sqlalchemy.ext.declarative.declarative_base",
})
DECLARATIVE_BASE_CLASSES = frozenset({
    "sqlalchemy.orm.DeclarativeBase",
    "sqlalchemy.orm.DeclarativeBaseNoMeta",
    "sqlalchemy.orm.decl_api.DeclarativeBase",
    "sqlalchemy.orm.decl_api.DeclarativeBaseNoMeta",
    "sqlmodel.SQLModel",
})
FUNCTOOLS_CACHES = frozenset({
    "functools.lru_cache",
    "functools.cache",
})
NON_POOLING_POOLS = frozenset({
    "sqlalchemy.pool.NullPool",
    "sqlalchemy.pool.impl.NullPool",
    "sqlalchemy.NullPool",
    "sqlalchemy.pool.StaticPool",
    "sqlalchemy.pool.impl.StaticPool",
    "sqlalchemy.StaticPool",
})
TEXT_CONSTRUCTORS = frozenset({
    "sqlalchemy.text",
    "sqlalchemy.sql.text",
    "sqlalchemy.sql.expression.text",
    "sqlmodel.text",
})
SELECT_CONSTRUCTORS = frozenset({
    "sqlalchemy.select",
    "sqlalchemy.sql.select",
    "sqlalchemy.sql.expression.select",
    "sqlalchemy.future.select",
    "sqlmodel.select",
    "sqlmodel.sql.expression.select",
})
FUNC = frozenset({
    "sqlalchemy.func",
    "sqlalchemy.sql.func",
    "sqlalchemy.sql.expression.func",
    "sqlalchemy.sql.functions.func",
    "sqlmodel.func",
})
METADATA_CLASSES = frozenset({
    "sqlalchemy.MetaData",
    "sqlalchemy.schema.MetaData",
    "sqlalchemy.sql.schema.MetaData",
    "sqlmodel.MetaData",
})

# Module prefixes whose import makes a file worth analysing. Every rule is about names that
# resolve to these packages or to project-defined names.
SQLALCHEMY_MODULES = ("sqlalchemy", "sqlmodel", "flask_sqlalchemy")
_ANCHORS = tuple(module.encode() for module in SQLALCHEMY_MODULES)


def names_sqlalchemy(data: bytes) -> bool:
    """Do these bytes name SQLAlchemy, SQLModel or Flask-SQLAlchemy? Without it (or a
    project-defined name: prefilter.worth_parsing) no rule can match; checked before
    anything heavy is imported."""
    return any(a in data for a in _ANCHORS)


# Query methods that change neither how many rows are loaded nor how.
NEUTRAL = frozenset({
    "order_by", "options", "distinct", "join", "outerjoin", "join_from", "outerjoin_from",
    "select_from", "execution_options", "scalars", "unique", "mappings", "tuples",
    "enable_eagerloads", "populate_existing", "autoflush", "with_for_update", "params",
    "correlate", "add_columns", "add_entity", "set_label_style", "order_by", "reset_joinpoint",
    "undefer", "with_hint", "prefix_with", "suffix_with", "with_labels", "apply_labels",
})
SESSION_STATEMENT_METHODS = frozenset({"execute", "scalars", "exec"})
