"""A long Kazakh or Russian subject reaches the customer whole: Python before 3.12.4 lost a
space when it folded such a header (gh-92081); the SMTP backend never folds headers."""

from email import message_from_bytes, policy

import pytest
from django.core.mail import EmailMultiAlternatives

from soldee.mail_smtp import EmailBackend

SUBJECTS = [
    "Soldee: 199\xa0900\xa0₸ сомасындағы төлем алынды",  # the one that lost its space
    "Soldee: 29\xa0900\xa0₸ сомасындағы төлем алынды",
    "Soldee: «Құпиялылық саясаты» құжатына өзгерістер енгізілді, күшіне ену күні 01.01.2099",
    "Soldee: ваша заявка на возврат № 12 одобрена — деньги вернутся на карту в течение нескольких дней",
]


class FakeSMTP:
    def __init__(self):
        self.sent = []

    def sendmail(self, from_email, recipients, body):
        self.sent.append(body)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_subject_arrives_with_every_space(subject, settings):
    from django.core import mail

    settings.MAILERS = {"default": {"BACKEND": "soldee.mail_smtp.EmailBackend",
                                    "OPTIONS": {"host": "localhost", "port": 25, "timeout": 5}}}
    backend = mail.mailers["default"]
    assert isinstance(backend, EmailBackend)
    backend.connection = FakeSMTP()
    message = EmailMultiAlternatives(subject, "Сәлеметсіз бе!", "Soldee <info@soldee.kz>", ["customer@example.kz"])
    assert backend._send(message) is True
    wire = backend.connection.sent[0]
    assert max(len(line) for line in wire.split(b"\r\n")) <= 998
    parsed = message_from_bytes(wire, policy=policy.default)
    assert str(parsed["Subject"]) == subject
    assert parsed.get_content().strip() == "Сәлеметсіз бе!"


def test_production_smtp_mail_goes_through_this_backend():
    from django.conf import settings

    # EMAIL_URL=smtp://… maps to it (soldee.settings._mailer).
    from soldee.settings import _mailer

    config = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "mail.example"}
    assert _mailer(config)["BACKEND"] == "soldee.mail_smtp.EmailBackend"
    assert settings.MAILERS["default"]["BACKEND"] != "django.core.mail.backends.smtp.EmailBackend"
