"""Every URL in the URLconf refuses a POST without a CSRF token (403), or refuses POST
altogether (405). The only exceptions are the payment gateways' webhooks, which cannot
carry our token and are authenticated by their HMAC signature instead, and the agent
platform's key check, authenticated by its bearer key (no cookie, no session).

The URL list is walked from the resolver, so a view added later is covered without
changing this test. Customer URLs are posted to as a logged-in customer, admin URLs as
a staff member who has passed the two-factor step."""

import re
import time
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.regex_helper import normalize

from tests.factories import UserFactory

# url names (namespace:name) that may accept a POST without our CSRF token.
CSRF_EXEMPT_ALLOWED = {"billing:webhook", "api:credential_verify"}

DUMMY_BY_CONVERTER = {"int": "1", "uuid": str(uuid.uuid4()), "slug": "x", "str": "x", "path": "x"}
REGEX_CANDIDATES = ["1", "x", str(uuid.uuid4()), "1-1"]
ROUTE_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


def _route_piece(pattern: RoutePattern) -> str:
    return ROUTE_PARAM.sub(lambda m: DUMMY_BY_CONVERTER[m.group("conv") or "str"], str(pattern))


def _regex_piece(pattern: RegexPattern) -> str:
    regex = re.compile(str(pattern))
    # A group of literal alternatives (the admin's app list): its first alternative.
    literals = [g.split("|")[0] for g in re.findall(r"\(\?P<\w+>([\w|]+)\)", str(pattern))]
    for fmt, params in normalize(str(pattern)):
        for value in REGEX_CANDIDATES + literals:
            candidate = fmt % {p: value for p in params}
            if regex.fullmatch(candidate) or regex.match(candidate):
                return candidate
    raise AssertionError(f"no dummy value fits {pattern}")


def _piece(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return _route_piece(pattern)
    if isinstance(pattern, RegexPattern):
        return _regex_piece(pattern)
    return str(pattern)


def _walk(resolver, prefix="", namespace=""):
    for entry in resolver.url_patterns:
        piece = _piece(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace]))
            yield from _walk(entry, prefix + piece, ns)
        elif isinstance(entry, URLPattern):
            name = ":".join(filter(None, [namespace, entry.name])) if entry.name else None
            yield "/" + prefix + piece, name, entry.lookup_str


ENDPOINTS = list(_walk(get_resolver()))


def test_the_walk_finds_the_urls_we_know():
    names = {name for _path, name, _view in ENDPOINTS}
    for expected in ("account_login", "account_signup", "account_reset_password", "billing:webhook",
                     "billing:return", "refunds:request_create", "subscriptions:renewal",
                     "accounts:data_export_request", "accounts:deletion_request", "admin:index",
                     "mfa_activate_totp", "set_language"):
        assert expected in names
    assert len(ENDPOINTS) > 60


def test_every_dummy_url_reaches_its_own_view():
    wrong = []
    for path, name, view in ENDPOINTS:
        match = resolve(path)
        same_name = name is not None and match.url_name == name.split(":")[-1]
        same_view = match._func_path.rsplit(".", 1)[-1] == view.rsplit(".", 1)[-1]
        if not (same_name or same_view):
            wrong.append((path, name or view, match._func_path))
    assert not wrong


@pytest.fixture
def customer_client(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    return client


@pytest.fixture
def staff_client(db):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    staff = UserFactory(is_staff=True, is_superuser=True, email="csrf-staff@soldee.kz")
    TOTP.activate(staff, generate_totp_secret())
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    session = client.session
    session["account_authentication_methods"] = [{"method": "mfa", "type": "totp", "at": time.time()}]
    session["account_authentication_methods_user"] = str(staff.pk)
    session.save()
    return client


def test_post_without_csrf_token_is_refused_everywhere(customer_client, staff_client, documents):
    accepted, exempt_refused = [], []
    for path, name, view in ENDPOINTS:
        client = staff_client if path.startswith("/admin/") else customer_client
        status = client.post(path, {"anything": "1"}).status_code
        if name in CSRF_EXEMPT_ALLOWED:
            if status == 403:
                exempt_refused.append(path)
        elif status not in (403, 405):
            accepted.append(f"{path} ({name or view}): {status}")
    assert not accepted, f"POST without a CSRF token was not refused: {accepted}"
    assert not exempt_refused, "webhooks and the platform API are authenticated by signature or key, not CSRF"


def test_the_same_post_with_the_token_goes_through(customer_client):
    """The refusals above are the CSRF check, not some other failure."""
    customer_client.get("/profile/privacy/")
    token = customer_client.cookies["csrftoken"].value
    response = customer_client.post("/profile/privacy/consent/", {"action": "withdraw",
                                                                   "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    response = customer_client.post("/profile/privacy/consent/", {"action": "withdraw"})
    assert response.status_code == 403
