from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class SessionFactoryPerCall(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA206"
    name = "session-factory-per-call"
    summary = "sessionmaker / scoped_session built on every call"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
