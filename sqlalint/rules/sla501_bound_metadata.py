from __future__ import annotations

from typing import Iterator

from sqlalint.context import Context
from sqlalint.rule import Report, Rule


class BoundMetadata(Rule):
    """
    ## What it does
    Not implemented yet.
    """

    code = "SLA501"
    name = "bound-metadata"
    summary = "MetaData or declarative_base bound to an engine"
    triggers = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        return iter(())
