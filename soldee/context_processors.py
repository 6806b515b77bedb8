from django.conf import settings

from .provider import provider_details


def site(request):
    return {"provider": provider_details(), "SITE_URL": settings.SITE_URL}
