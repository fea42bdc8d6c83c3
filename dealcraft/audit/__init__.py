"""The tamper-evident audit trail: who did what to which record, when, and why.

``AuditLog.record`` appends an entry inside the caller's write transaction; ``verify``
checks every hash chain; ``purge`` applies retention by category; ``query`` reads entries
back. See docs/audit.md.
"""

from dealcraft.audit.actions import ACTIONS, CATEGORIES
from dealcraft.audit.log import DEFAULT_SHARDS, SHARD_INFO_KEY, AuditChainBroken, AuditLog
from dealcraft.audit.verify import VerifyResult

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "DEFAULT_SHARDS",
    "SHARD_INFO_KEY",
    "AuditChainBroken",
    "AuditLog",
    "VerifyResult",
]
