from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class LenOfAll(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA302"
    name = "len-of-all"
    summary = "rows loaded only to be counted"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
