"""Staff use the admin only with two-factor authentication (docs/security.md)."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _


def staff_has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user, [Authenticator.Type.TOTP])


def session_used_mfa(request) -> bool:
    from allauth.account.authentication import get_authentication_records

    return any(r.get("method") == "mfa" for r in get_authentication_records(request, request.user))


class StaffMFAMiddleware:
    """An authenticated staff member opening the admin must (1) have a TOTP
    authenticator and (2) have used a second factor in this session. Otherwise: to
    the TOTP setup page, or to the two-factor re-authentication page.
    SOLDEE_STAFF_MFA_REQUIRED=0 turns this off (a local demo only)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self._check(request)
        return response or self.get_response(request)

    def _check(self, request):
        if not getattr(settings, "SOLDEE_STAFF_MFA_REQUIRED", True):
            return None
        # The path first: other pages load the user only if their view needs it (and the
        # personal account loads it in one round trip with its cached page).
        admin_root = reverse("admin:index")
        if not request.path.startswith(admin_root) or request.path.startswith(admin_root + "logout/"):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff:
            return None
        if not staff_has_totp(user):
            messages.warning(request, _(
                "Staff must use two-factor authentication. Set up an authenticator app to open the admin."))
            return redirect("mfa_activate_totp")
        if not session_used_mfa(request):
            messages.info(request, _("Confirm it is you with a code from your authenticator app."))
            return redirect(reverse("mfa_reauthenticate") + "?" + urlencode({"next": request.get_full_path()}))
        return None


SESSION_LANGUAGE_KEY = "customer_language"


def remember_customer_language(sender, request, user, **kwargs):
    """At login: the customer's own language (User.language) for this session. Per session,
    not a cookie: the next customer on a shared computer gets their own."""
    if request is not None and hasattr(request, "session") and not user.is_staff:
        request.session[SESSION_LANGUAGE_KEY] = user.language
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and user.language in dict(settings.LANGUAGES):
            # The rest of this request too: the "signed in" message is written right after.
            from django.utils import translation

            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language


class UserLanguageMiddleware:
    """A logged-in customer's pages in the language they chose (`User.language`, set at
    sign-up and by the language switch), in any browser: kept in the session at login
    (remember_customer_language), it wins over the browser's Accept-Language when this
    browser has no language cookie of its own (the switch writes that cookie, and it wins).
    Reads only the session, which authentication reads anyway (the page cache still reads
    the user together with the page). After SessionMiddleware and LocaleMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils import translation

        # Only a visitor with a session (a logged-in one): reading no session for the others
        # adds no `Vary: Cookie` to the pages cached for anonymous visitors.
        if (settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and settings.SESSION_COOKIE_NAME in request.COOKIES
                and hasattr(request, "session")):
            chosen = request.session.get(SESSION_LANGUAGE_KEY)
            if chosen in dict(settings.LANGUAGES):
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
        return self.get_response(request)
