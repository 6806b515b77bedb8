from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from plans import views as plan_views

urlpatterns = [
    path("", plan_views.pricing, name="home"),
    path("pricing/", plan_views.pricing, name="pricing"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("account/", include("subscriptions.urls")),
    path("profile/", include("accounts.urls")),
    path("legal/", include("offer.urls")),
    path("billing/", include("billing.urls")),
    path("refunds/", include("refunds.urls")),
    path("api/", include("subscriptions.api_urls")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG or settings.EMBEDDED:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
