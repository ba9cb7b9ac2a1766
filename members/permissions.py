"""Staff permissions, checked by the services themselves.

The admin offers a person only what their permissions allow, and the service refuses it again: a
direct POST, a new screen or a script that forgets the admin's check cannot skip it. `actor` is the
staff user acting; None is the system itself (a scheduled job, a management command run on the
server, or a storefront call, which is scoped by its storefront instead)."""

from __future__ import annotations

from members.errors import NotPermitted


def require_permission(actor, permission: str, message: str) -> None:
    """Raise NotPermitted(message) unless `actor` is the system or holds `permission`."""
    if actor is not None and not actor.has_perm(permission):
        raise NotPermitted(message)
