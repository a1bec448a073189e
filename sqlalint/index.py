"""Project-wide facts: which module-level names are engines, session factories, models.

Placeholder until the project index lands: knows nothing, so cross-module names stay
unknown and the rules stay silent on them.
"""
from __future__ import annotations

from typing import Optional

from sqlalint.infer import Value


class ProjectIndex:
    def lookup(self, qualified: str) -> Optional[Value]:
        return None

    def trigger_names(self) -> tuple[str, ...]:
        return ()
