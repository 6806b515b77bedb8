"""The Provider's details (STG LLP): one settings-backed source for the site and documents."""

from dataclasses import dataclass

from django.conf import settings
from django.utils import translation


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


def provider_details(language: str | None = None) -> ProviderDetails:
    """The details as written in `language` (default: the active one): the name, address
    and bank in Russian or Kazakh where PROVIDER_LOCALIZED has them, English otherwise."""
    language = (language or translation.get_language() or "en").split("-")[0]
    data = {**settings.PROVIDER, **getattr(settings, "PROVIDER_LOCALIZED", {}).get(language, {})}
    data["emails"] = tuple(data["emails"])
    return ProviderDetails(**data)
