"""The built-in step types; each module registers its types with ``register_step``."""

from dealcraft.flows.steps import (
    approval,
    control,
    documents,
    lookup,
    notify,
    records,
    verification,
)

__all__ = ["approval", "control", "documents", "lookup", "notify", "records", "verification"]
