"""Staff opening a customer's file outside the admin (the PDF links on admin pages go to
the customer's own download URLs): the same guards as the admin, and the same record."""

from django.conf import settings

from .models import Event


def staff_may_view(request, obj, *, perm: str | tuple[str, ...], customer) -> bool:
    """True, and `staff.viewed` recorded, when the user is active staff with `perm` (or one
    of several), who used a second factor in this session where the admin requires one;
    False otherwise (the caller answers 404, as for anybody else's file)."""
    from accounts.middleware import session_used_mfa, staff_has_totp

    user = request.user
    perms = (perm,) if isinstance(perm, str) else perm
    if not (user.is_authenticated and user.is_active and user.is_staff
            and any(user.has_perm(p) for p in perms)):
        return False
    if getattr(settings, "SOLDEE_STAFF_MFA_REQUIRED", True) and not (
            staff_has_totp(user) and session_used_mfa(request)):
        return False
    from . import events

    events.record(verb="staff.viewed", subject=obj, customer=customer, actor=user,
                  actor_kind=Event.ActorKind.STAFF, data={"model": obj._meta.label_lower, "path": request.path})
    return True
