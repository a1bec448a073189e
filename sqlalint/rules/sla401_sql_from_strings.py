from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class SqlFromStrings(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA401"
    name = "sql-from-strings"
    summary = "SQL text built from values with f-strings, %, .format() or +"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
