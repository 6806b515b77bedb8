"""Gateway adapters, chosen by settings.PAYMENT_GATEWAY."""

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .base import (  # noqa: F401
    ChargeResult,
    ChargeStatus,
    Gateway,
    GatewayError,
    HostedPayment,
    Notification,
    PaymentRequest,
    RefundResult,
    SignatureError,
)

_ADAPTERS = {
    "sandbox": "billing.gateways.sandbox.SandboxGateway",
    "cloudpayments": "billing.gateways.cloudpayments.CloudPaymentsGateway",
}


# How staff read the stored `gateway` value (Payment, PaymentMethod, IncomingNotification):
# the admin's filters showed "sandbox". "bank": a payment by invoice (bank transfer).
DISPLAY_NAMES = {
    "sandbox": _("Test gateway (sandbox)"),
    "cloudpayments": "CloudPayments",
    "bank": _("Bank transfer"),
}


def display_name(name: str) -> str:
    return str(DISPLAY_NAMES.get(name, name))


def known_names(*, bank: bool = True) -> list[str]:
    """The gateway names a stored row can carry, read from settings and the registry rather
    than the rows (the admin's gateway filters): the configured gateway, those winding down
    (PAYMENT_GATEWAYS_RETIRED), the other adapters, and "bank" (a payment by invoice; only
    payments carry it) when `bank`."""
    names = [settings.PAYMENT_GATEWAY, *settings.PAYMENT_GATEWAYS_RETIRED, *_ADAPTERS]
    return list(dict.fromkeys(names + (["bank"] if bank else [])))


def get_gateway(name: str | None = None) -> Gateway:
    name = name or settings.PAYMENT_GATEWAY
    try:
        path = _ADAPTERS[name]
    except KeyError:
        raise GatewayError(f"unknown payment gateway {name!r}") from None
    return import_string(path)()
