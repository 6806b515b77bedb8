import pytest
from django.core import mail

from soldee.emails import send_customer_email

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("lang", "word"), [("ru", "платёж"), ("kk", "төлем"), ("en", "payment")])
def test_every_email_has_text_and_html_in_the_customers_language(lang, word, customer, plan, documents):
    from billing.gateways import ChargeResult, ChargeStatus
    from billing.services import payment_settle
    from subscriptions.services import checkout_start

    customer.language = lang
    customer.save()
    payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                             token="e", client_ip=None, user_agent="")
    payment, _ = payment_settle(public_id=payment.public_id, source="test", charge=ChargeResult(
        status=ChargeStatus.APPROVED, amount_minor=payment.amount_minor, currency="KZT"))
    assert send_customer_email(user=customer, template="emails/receipt", context={"payment": payment})
    message = mail.outbox[-1]
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert "<html" in html and "250640004728" in html  # the portal's look, provider details
    assert "/account/" in html and "<a href=" in html
    assert word.lower() in (message.subject + message.body).lower()
    assert f'lang="{lang}"' in html


def test_an_email_is_sent_once_per_key():
    user = UserFactory()
    assert send_customer_email(user=user, template="emails/subscription_lapsed",
                               context={"subscription": type("S", (), {"plan": type("P", (), {"name": "Start"})})()},
                               idempotency_key="k1")
    assert not send_customer_email(user=user, template="emails/subscription_lapsed",
                                   context={"subscription": None}, idempotency_key="k1")
    assert len(mail.outbox) == 1


def test_a_send_that_fails_gives_its_key_back_so_the_retry_sends(customer, monkeypatch, mailoutbox):
    from django.core import mail

    from soldee.emails import send_customer_email

    calls = []
    real_send = mail.EmailMultiAlternatives.send

    def flaky(self, *a, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("SMTP server went away")
        return real_send(self, *a, **kw)

    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", flaky)
    kwargs = dict(user=customer, template="emails/renewal_reminder", context={"subscription": None},
                  idempotency_key="test-flaky-1")
    try:
        send_customer_email(**kwargs)
    except OSError:
        pass
    assert send_customer_email(**kwargs) is True
    assert len(mailoutbox) == 1
    assert send_customer_email(**kwargs) is False  # sent once: a redelivery sends nothing
