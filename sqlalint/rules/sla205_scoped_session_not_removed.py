from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class ScopedSessionNotRemoved(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA205"
    name = "scoped-session-not-removed"
    summary = "a scoped_session registry whose sessions are never removed"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
