from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class UnboundedLoad(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA301"
    name = "unbounded-load"
    summary = "a whole table loaded with .all() or iteration"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
