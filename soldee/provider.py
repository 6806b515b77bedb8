"""The Provider's details (STG LLP): one settings-backed source for the site and documents."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ProviderDetails:
    name: str
    address: str
    bin: str
    bank: str
    kbe: str
    bic: str
    account: str
    emails: tuple[str, ...]
    phone: str
    website: str

    @property
    def primary_email(self) -> str:
        return self.emails[0]


def provider_details() -> ProviderDetails:
    data = dict(settings.PROVIDER)
    data["emails"] = tuple(data["emails"])
    return ProviderDetails(**data)
