from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class PoolInheritedByFork(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA102"
    name = "pool-inherited-by-fork"
    summary = "a forked process inherits the parent's connection pool"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
