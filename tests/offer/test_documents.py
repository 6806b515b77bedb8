import datetime

import pytest

from offer.models import Acceptance, LegalDocument
from offer.services import document_in_force, document_publish
from soldee.models import AppendOnlyError

pytestmark = pytest.mark.django_db

SEED = open("offer/data/public-offer-2025-11-01.txt", encoding="utf-8").read()


def test_the_initial_offer_is_the_published_text_with_its_hash(documents):
    import hashlib

    offer = documents["offer"]
    assert offer.body == SEED
    assert offer.sha256 == hashlib.sha256(SEED.encode()).hexdigest()
    assert offer.effective_date == datetime.date(2025, 11, 1)


def test_a_published_version_cannot_be_edited_or_deleted(documents):
    offer = LegalDocument.objects.get(pk=documents["offer"].pk)
    offer.body = "Something else"
    with pytest.raises(AppendOnlyError):
        offer.save()
    with pytest.raises(AppendOnlyError):
        offer.delete()
    assert LegalDocument.objects.get(pk=offer.pk).body == SEED


def test_the_version_in_force_is_the_newest_published_one_whose_date_has_come(documents, time_machine):
    time_machine.move_to(datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC))
    future = LegalDocument.objects.create(kind="offer", label="2026-12-01", title="Public Offer",
                                          body="v2", effective_date=datetime.date(2026, 12, 1))
    assert document_in_force("offer") == documents["offer"]  # a draft is not in force
    document_publish(document_id=future.pk)
    assert document_in_force("offer") == documents["offer"]  # not effective yet
    time_machine.move_to(datetime.datetime(2026, 12, 1, 0, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5))))
    assert document_in_force("offer").pk == future.pk


def test_a_new_version_cannot_take_effect_in_the_past(documents):
    old = LegalDocument.objects.create(kind="terms", label="2020-01-01", title="Terms", body="x",
                                       effective_date=datetime.date(2020, 1, 1))
    with pytest.raises(ValueError):
        document_publish(document_id=old.pk)


def test_current_and_old_versions_are_readable_at_stable_urls(client, documents):
    new = LegalDocument.objects.create(kind="offer", label="2099-01-01", title="Public Offer",
                                       body="Future text", effective_date=datetime.date(2099, 1, 1))
    document_publish(document_id=new.pk)
    current = client.get("/legal/offer/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Version 2025-11-01" in current and "In force" in current
    old = client.get("/legal/offer/2025-11-01/")
    assert old.status_code == 200
    assert client.get("/legal/offer/2099-01-01/").status_code == 200
    listing = client.get("/legal/offer/versions/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2099-01-01" in listing and "Comes into force later" in listing
    assert client.get("/legal/offer/no-such-version/").status_code == 404
    assert client.get("/legal/nonsense/").status_code == 404


def test_every_page_has_the_legal_footer_and_provider_details(client, documents):
    body = client.get("/pricing/").content.decode()
    for url in ("/legal/offer/", "/legal/privacy/", "/legal/terms/", "/legal/contacts/"):
        assert f'href="{url}"' in body
    contacts = client.get("/legal/contacts/").content.decode()
    for value in ("250640004728", "CASPKZKA", "KZ24722S000046089639", "Kaspi Bank JSC", "+7 700 431 31 31"):
        assert value in contacts


def test_acceptances_cannot_be_changed(customer, plan, documents):
    from billing.gateways import ChargeResult, ChargeStatus
    from billing.services import payment_settle
    from subscriptions.services import checkout_start

    payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                             token="t", client_ip=None, user_agent="")
    payment_settle(public_id=payment.public_id, source="test", charge=ChargeResult(
        status=ChargeStatus.APPROVED, amount_minor=payment.amount_minor, currency="KZT"))
    acceptance = Acceptance.objects.get()
    acceptance.plan_name = "edited"
    with pytest.raises(AppendOnlyError):
        acceptance.save()
    with pytest.raises(AppendOnlyError):
        Acceptance.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        Acceptance.objects.update(price_minor=1)


def test_a_reader_in_russian_or_kazakh_is_told_the_legal_text_is_the_english_original(client, documents):
    for lang in ("ru", "kk"):
        body = client.get("/legal/offer/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        assert 'id="not-translated"' in body
    assert 'id="not-translated"' not in client.get("/legal/offer/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
