from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class SessionNotClosed(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA204"
    name = "session-not-closed"
    summary = "a Session opened in a function and never closed"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
