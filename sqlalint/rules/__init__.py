"""Every rule, listed explicitly: one rule per module, named after its code and name."""
from __future__ import annotations

from sqlalint.rule import Rule
from sqlalint.rules.sla101_engine_per_call import EnginePerCall
from sqlalint.rules.sla102_pool_inherited_by_fork import PoolInheritedByFork
from sqlalint.rules.sla201_cached_session import CachedSession
from sqlalint.rules.sla202_global_session import GlobalSession
from sqlalint.rules.sla203_session_crosses_threads import SessionCrossesThreads
from sqlalint.rules.sla204_session_not_closed import SessionNotClosed
from sqlalint.rules.sla205_scoped_session_not_removed import ScopedSessionNotRemoved
from sqlalint.rules.sla206_session_factory_per_call import SessionFactoryPerCall
from sqlalint.rules.sla301_unbounded_load import UnboundedLoad
from sqlalint.rules.sla302_len_of_all import LenOfAll
from sqlalint.rules.sla401_sql_from_strings import SqlFromStrings
from sqlalint.rules.sla402_string_execute import StringExecute
from sqlalint.rules.sla501_bound_metadata import BoundMetadata
from sqlalint.rules.sla502_legacy_declarative_import import LegacyDeclarativeImport

ALL_RULES: list[Rule] = [
    EnginePerCall(),
    PoolInheritedByFork(),
    CachedSession(),
    GlobalSession(),
    SessionCrossesThreads(),
    SessionNotClosed(),
    ScopedSessionNotRemoved(),
    SessionFactoryPerCall(),
    UnboundedLoad(),
    LenOfAll(),
    SqlFromStrings(),
    StringExecute(),
    BoundMetadata(),
    LegacyDeclarativeImport(),
]
ALL_CODES = frozenset(rule.code for rule in ALL_RULES)
RULES_BY_CODE = {rule.code: rule for rule in ALL_RULES}
