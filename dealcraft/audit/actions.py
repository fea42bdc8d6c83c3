"""The audited actions and their categories; retention is set per category."""

from __future__ import annotations

# Categories group actions for retention (``purge --years access=2``) and for reading.
DATA = "data"  # record writes, sensitive reads, unmasking
ACCESS = "access"  # denied attempts
AUTH = "auth"  # logins, failures, lockouts
EXPORT = "export"  # every export file made
ADMIN = "admin"  # tokens, policies, the audit trail's own maintenance

CATEGORIES = (DATA, ACCESS, AUTH, EXPORT, ADMIN)

# The actions the platform records, with the category each is recorded under. ``record()``
# accepts other actions too; these are the ones the built-in features use.
ACTIONS: dict[str, str] = {
    "record.create": DATA,
    "record.update": DATA,
    "record.delete": DATA,
    "record.restore": DATA,
    "record.read_sensitive": DATA,
    "record.unmask": DATA,
    "export": EXPORT,
    "auth.login": AUTH,
    "auth.login_failed": AUTH,
    "auth.lockout": AUTH,
    "token.issue": ADMIN,
    "token.revoke": ADMIN,
    "policy.change": ADMIN,
    "access.denied": ACCESS,
    "audit.purge": ADMIN,
}

PURGE = "audit.purge"
