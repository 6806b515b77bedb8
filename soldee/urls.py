from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from plans import views as plan_views
from soldee.health import health, health_all


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links: the icon (resolved per request,
    so the static files' manifest is read only when it exists)."""
    from django.shortcuts import redirect
    from django.templatetags.static import static

    return redirect(static("img/favicon.svg"))  # temporary: the hashed name changes with each release


urlpatterns = [
    path("", plan_views.pricing, name="home"),
    path("pricing/", plan_views.pricing, name="pricing"),
    # Django's set_language, which also keeps a logged-in customer's e-mail language.
    path("i18n/setlang/", account_views.set_language, name="set_language"),
    path("favicon.ico", favicon),
    path("health/", health, name="health"),
    path("health/all/", health_all, name="health-all"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("subscriptions.urls")),
    path("profile/", include("accounts.urls")),
    path("legal/", include("offer.urls")),
    path("billing/", include("billing.urls")),
    path("refunds/", include("refunds.urls")),
    path("api/", include("subscriptions.api_urls")),
    # Staff dashboard and test clock (admin_view-wrapped); before the admin's catch-all.
    path("admin/", include("soldee.staff_urls")),
    path("admin/", admin.site.urls),
]

if getattr(settings, "SOLDEE_BENCH_VIEWS", False):  # bench/pages.sh only: a bare view to compare with
    from soldee import views_bench

    urlpatterns.insert(0, path("bench/bare/", views_bench.bare))

if settings.DEBUG or settings.EMBEDDED:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
