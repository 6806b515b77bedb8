"""A long Kazakh or Russian subject reaches the customer whole: Python before 3.12.4 lost a
space when it folded such a header (gh-92081: "сомасындағытөлем"), which is why the portal
needs 3.12.4 or newer (scripts/check_system.py). Sent through Django's SMTP backend."""

from email import message_from_bytes, policy

import pytest
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend

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

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "localhost", "port": 25, "timeout": 5}}}
    backend = mail.mailers["default"]
    assert isinstance(backend, EmailBackend)
    backend.connection = FakeSMTP()
    message = EmailMultiAlternatives(subject, "Сәлеметсіз бе!", "Soldee <info@soldee.kz>", ["customer@example.kz"])
    assert backend._send(message) is True
    wire = backend.connection.sent[0]
    assert max(len(line) for line in wire.split(b"\r\n")) <= 78  # folded as usual
    parsed = message_from_bytes(wire, policy=policy.default)
    assert str(parsed["Subject"]) == subject
    assert parsed.get_content().strip() == "Сәлеметсіз бе!"
