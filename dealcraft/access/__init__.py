"""Who is acting: principals, identities, tokens and the access policy."""

from dealcraft.access.principal import SYSTEM, Principal

__all__ = ["SYSTEM", "Principal"]
