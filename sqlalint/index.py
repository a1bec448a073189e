"""Project-wide facts: which module-level names are engines, session factories, models.

Placeholder until the project index lands: it knows nothing, so cross-module names stay
unknown and the rules stay silent on them. The interface below is what the rest of
sqlalint relies on.
"""
from __future__ import annotations

from typing import Optional

from sqlalint.infer import Value


class ProjectIndex:
    def lookup(self, qualified: str) -> Optional[Value]:
        """What the module-level name ``qualified`` ("app.db.SessionLocal") is, with the
        path and line where it is defined; None when unknown."""
        return None

    def trigger_names(self) -> tuple[str, ...]:
        """Names of project-defined engines, factories and models: a file that mentions one
        is worth parsing even if it never names SQLAlchemy."""
        return ()

    def registry_removed(self, qualified: str) -> bool:
        """Does any module of the project call ``.remove()`` on the scoped_session registry
        ``qualified`` (directly or through an imported alias)?"""
        return False

    def fingerprint(self) -> str:
        """Changes whenever any fact changes: part of the result cache's key."""
        return ""
