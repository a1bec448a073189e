from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class StringExecute(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA402"
    name = "string-execute"
    summary = "a plain string passed to execute()"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
