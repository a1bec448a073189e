"""What the analysis says a name or expression is (:class:`Value`, of a :class:`Kind`), and
what SQLAlchemy's own API and the configuration say about qualified names.

Plain data without libcst: single-file inference (:mod:`sqlalint.infer`) and the project
index (:mod:`sqlalint.index`, which a run over files that never name SQLAlchemy builds
without importing the parser) share it, so both answer alike.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from sqlalint import sqla

if TYPE_CHECKING:
    import libcst as cst


class Kind(enum.Enum):
    ENGINE = "an Engine"
    CONNECTION = "a Connection"
    SESSION_FACTORY = "a sessionmaker"  # calling it opens a new Session
    SESSION_CLASS = "the Session class"  # calling it opens a new Session
    SCOPED_REGISTRY = "a scoped_session registry"  # calling it returns the thread's Session
    SESSION = "a Session"
    FLASK_DB = "a Flask-SQLAlchemy extension"
    MODEL = "a mapped model"
    BASE = "a declarative base"
    FUNCTION = "a function"  # ``returns`` / ``yields`` say what it gives


@dataclass(frozen=True)
class Value:
    kind: Kind
    is_async: bool = False
    # Where it was defined: a node of this file, or a path and line from the project index.
    node: Optional[cst.CSTNode] = None
    path: Optional[str] = None
    line: Optional[int] = None
    name: Optional[str] = None  # the name it is known by where it was defined
    detail: str = ""  # "async_sessionmaker", "scoped_session", "create_async_engine", ...
    returns: Optional["Value"] = None  # FUNCTION: what calling it returns
    yields: Optional["Value"] = None  # FUNCTION: what a generator yields
    from_registry: Optional["Value"] = None  # SESSION: the scoped_session registry it came from
    factory: Optional["Value"] = None  # SESSION: the factory that opened it
    flask: bool = False  # managed by Flask-SQLAlchemy (``db.session``, ``db.engine``)
    table: Optional[str] = None  # MODEL: its table name, when known

    @property
    def is_session_maker(self) -> bool:
        """Calling it opens a new Session."""
        return self.kind in (Kind.SESSION_FACTORY, Kind.SESSION_CLASS)

    def describe(self) -> str:
        if self.kind is Kind.FUNCTION:
            given = self.returns or self.yields
            verb = "returns" if self.returns else "yields"
            return f"a function that {verb} {given.describe()}" if given else "a function"
        if self.detail:
            article = "an" if self.detail[0].lower() in "aeiou" else "a"
            return f"{article} {self.detail}"
        return self.kind.value


_CONSTRUCTORS: list[tuple[frozenset, Kind, bool, str]] = [
    (sqla.ENGINE_CONSTRUCTORS, Kind.ENGINE, False, "Engine"),
    (sqla.ASYNC_ENGINE_CONSTRUCTORS, Kind.ENGINE, True, "AsyncEngine"),
    (sqla.SESSIONMAKERS, Kind.SESSION_FACTORY, False, "sessionmaker"),
    (sqla.ASYNC_SESSIONMAKERS, Kind.SESSION_FACTORY, True, "async_sessionmaker"),
    (sqla.SCOPED_SESSIONS, Kind.SCOPED_REGISTRY, False, "scoped_session registry"),
    (sqla.SESSION_CLASSES, Kind.SESSION, False, "Session"),
    (sqla.ASYNC_SESSION_CLASSES, Kind.SESSION, True, "AsyncSession"),
    (sqla.FLASK_SQLALCHEMY, Kind.FLASK_DB, False, "Flask-SQLAlchemy extension"),
    (sqla.DECLARATIVE_BASE_FUNCTIONS, Kind.BASE, False, "declarative base"),
]


def constructed_kind(qualified: str) -> Optional[tuple[Kind, bool, str]]:
    """What calling the API ``qualified`` returns, when it is one sqlalint knows."""
    for names, kind, is_async, detail in _CONSTRUCTORS:
        if qualified in names:
            if kind is Kind.SCOPED_REGISTRY and "async" in qualified:
                return kind, True, "async_scoped_session registry"
            return kind, is_async, detail
    return None


def configured_or_api_value(qualified: str, session_factories: frozenset,
                            engine_factories: frozenset) -> Optional[Value]:
    """What ``qualified`` is when the configuration or SQLAlchemy's own API says so; shared by
    single-file inference and the project index so both answer alike."""
    if qualified in session_factories:
        return Value(Kind.SESSION_FACTORY, name=qualified.rpartition(".")[2], detail="session factory (configured)")
    if qualified in engine_factories:
        return Value(Kind.FUNCTION, name=qualified.rpartition(".")[2], returns=Value(Kind.ENGINE, detail="Engine"))
    if qualified in sqla.SESSION_CLASSES:
        return Value(Kind.SESSION_CLASS, name="Session", detail="Session class")
    if qualified in sqla.ASYNC_SESSION_CLASSES:
        return Value(Kind.SESSION_CLASS, is_async=True, name="AsyncSession", detail="AsyncSession class")
    return None
