"""soldee/csrf_tokens.py: the CSRF tokens put into cached pages are Django's tokens —
same alphabet, uniform, a fresh mask each time over the visitor's one secret — and
Django's own CSRF check accepts them."""

import re
from collections import Counter

import pytest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, _unmask_cipher_token
from django.test import Client, RequestFactory

from soldee import csrf_tokens
from tests.factories import PlanFactory

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def test_random_chars_are_uniform_over_the_csrf_alphabet():
    drawn = "".join(csrf_tokens.random_chars() for _ in range(6000))  # 192,000 characters
    assert len(drawn) == 192_000 and set(drawn) <= set(CSRF_ALLOWED_CHARS)
    counts = Counter(drawn)
    expected = len(drawn) / len(CSRF_ALLOWED_CHARS)  # ~3,097; sd ~55
    # A plain `byte % 62` would give the first 8 characters 25 % more than the rest.
    assert len(counts) == 62 and all(abs(n - expected) < 0.1 * expected for n in counts.values())


def test_a_token_masks_the_visitors_secret_and_a_first_visit_gets_a_new_one():
    request = RequestFactory().get("/")
    first = csrf_tokens.get_token(request)
    secret = request.META["CSRF_COOKIE"]
    assert len(first) == 64 and request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert _unmask_cipher_token(first) == secret
    second = csrf_tokens.get_token(request)
    assert second != first and _unmask_cipher_token(second) == secret  # a new mask, the same secret

    returning = RequestFactory().get("/")
    returning.META["CSRF_COOKIE"] = "a" * 32
    assert _unmask_cipher_token(csrf_tokens.get_token(returning)) == "a" * 32


@pytest.mark.django_db
def test_tokens_of_cached_pages_pass_djangos_csrf_check(customer, plan, documents):
    PlanFactory(code="pro", name="Pro", price_minor=5_990_000)
    visitor = Client(enforce_csrf_checks=True)
    visitor.get("/pricing/")  # rendered and stored
    page = visitor.get("/pricing/").content.decode()  # from the cache: our token
    token = CSRF.search(page).group(1)
    assert visitor.post("/i18n/setlang/", {"language": "ru", "next": "/pricing/",
                                           "csrfmiddlewaretoken": token}).status_code == 302
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert visitor.post("/i18n/setlang/", {"language": "ru", "next": "/pricing/",
                                           "csrfmiddlewaretoken": forged}).status_code == 403

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    browser.get("/account/")
    page = browser.get("/account/").content.decode()  # from the cache
    response = browser.post("/accounts/logout/", {"csrfmiddlewaretoken": CSRF.search(page).group(1)})
    assert response.status_code == 302 and browser.get("/account/").status_code == 302
