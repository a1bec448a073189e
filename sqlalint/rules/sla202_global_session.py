from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class GlobalSession(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA202"
    name = "global-session"
    summary = "a Session instance bound at module level or in a class body"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
