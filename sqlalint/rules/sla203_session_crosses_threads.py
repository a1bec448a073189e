from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class SessionCrossesThreads(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA203"
    name = "session-crosses-threads"
    summary = "a Session used by code that runs in another thread"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
