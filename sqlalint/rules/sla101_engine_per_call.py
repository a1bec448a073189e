from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class EnginePerCall(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA101"
    name = "engine-per-call"
    summary = "create_engine whose Engine and pool are rebuilt on every call"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
