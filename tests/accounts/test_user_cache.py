"""The logged-in user read from the shared cache (accounts/auth_backends.py): no user
query on a repeat request, and every save — deactivation, password change — applies at
the next request."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

USER_TABLE = get_user_model()._meta.db_table


def _user_queries(client, path="/account/"):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    return response, [q["sql"] for q in ctx.captured_queries if f'FROM "{USER_TABLE}"' in q["sql"]]


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()


def test_a_repeat_request_reads_the_user_from_the_cache(client, customer):
    client.force_login(customer)
    first, first_queries = _user_queries(client)
    second, second_queries = _user_queries(client)
    assert first.status_code == second.status_code == 200
    assert first_queries and not second_queries


def test_without_the_setting_the_user_is_read_from_the_database_every_time(client, customer, settings):
    settings.SOLDEE_USER_CACHE = False
    client.force_login(customer)
    _user_queries(client)
    assert _user_queries(client)[1]


def test_a_deactivated_customer_is_logged_out_at_the_next_request(client, customer):
    client.force_login(customer)
    assert _user_queries(client)[0].status_code == 200
    customer.is_active = False
    customer.save()
    response = client.get("/account/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_password_change_ends_other_sessions_at_once(client, customer):
    client.force_login(customer)
    assert client.get("/account/").status_code == 200
    customer.set_password("a-new-long-password-42")
    customer.save()
    response = client.get("/account/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_row_read_before_a_change_and_stored_after_it_is_never_served(client, customer, monkeypatch):
    """The race: a request reads the user (active), staff deactivate them, then that
    request stores the row it read. The next request must not be let in."""
    from accounts import auth_backends

    client.force_login(customer)
    real_get_user = auth_backends.ModelBackend.get_user

    def read_then_change_happens(self, user_id):
        user = real_get_user(self, user_id)  # the old, active row
        changed = get_user_model().objects.get(pk=user_id)
        changed.is_active = False
        changed.save()  # the deactivation lands between the read and the cache write
        return user

    monkeypatch.setattr(auth_backends.ModelBackend, "get_user", read_then_change_happens)
    client.get("/account/")  # this request still saw the old row
    monkeypatch.undo()
    response = client.get("/account/")
    assert response.status_code == 302 and "/login/" in response["Location"]
