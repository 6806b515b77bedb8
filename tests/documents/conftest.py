"""Fixtures for documents: a real paid purchase (checkout → settle → acceptance), staff,
a customer whose name has every Kazakh letter, and PDF text extraction."""

import io
import re

import pytest
from pypdf import PdfReader

from billing.gateways import ChargeResult, ChargeStatus
from billing.services import payment_settle
from subscriptions.services import checkout_start
from tests.factories import ProfileFactory

KAZAKH_NAME = "Сәуле Бағланқызы Төлегенова-Сүлейменова (Әйгерім Ғ. Қоңыр, Ұ. Өмір, Ү. Шаһар, Ң. Һ. Іле, ұлы)"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def settle(payment, ref=None):
    return payment_settle(public_id=payment.public_id, source="test", charge=ChargeResult(
        status=ChargeStatus.APPROVED, gateway_ref=ref or f"ref-{payment.pk}", amount_minor=payment.amount_minor,
        currency=payment.currency, card_token=f"tok-{payment.pk}", card_mask="•••• 4242"))[0]


@pytest.fixture
def buy(documents, plan):
    """Pay for `plan` as `customer`; returns the Acceptance."""

    def _buy(customer, token="t1"):
        payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                                 token=token, client_ip="10.1.2.3", user_agent="pytest-documents/1.0")
        return settle(payment).acceptance

    return _buy


@pytest.fixture
def kazakh_customer(db):
    return ProfileFactory(name=KAZAKH_NAME, address="Алматы, Абай даңғылы 1, 050000",
                          postal_address="Астана, Қабанбай батыр 11, пәтер 5", user__language="ru").user


