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


class UserLanguageMiddleware:
    """A logged-in customer's pages in the language they chose (`User.language`, set at
    sign-up and by the language switch), in any browser: without a language cookie, it
    wins over the browser's Accept-Language, and the cookie is set so that it holds after
    logging out too. A cookie (this browser's own choice) wins over it. After Django's
    LocaleMiddleware and AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils import translation

        chosen = None
        user = getattr(request, "user", None)
        # Customers only: a staff account's `language` is the model's default unless they
        # chose one, and the admin follows the browser (or the switch) as before.
        # The cookie first: with it (every request after the first) the user is not loaded
        # here, so the page cache still reads it together with the page (soldee/pagecache.py).
        if (settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and user is not None
                and user.is_authenticated and not user.is_staff
                and getattr(user, "language", "") in dict(settings.LANGUAGES)):
            chosen = user.language
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if chosen is not None and settings.LANGUAGE_COOKIE_NAME not in response.cookies:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, chosen, max_age=settings.LANGUAGE_COOKIE_AGE,
                                path=settings.LANGUAGE_COOKIE_PATH, secure=settings.LANGUAGE_COOKIE_SECURE,
                                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                                samesite=settings.LANGUAGE_COOKIE_SAMESITE)
        return response
