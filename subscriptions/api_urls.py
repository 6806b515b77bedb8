from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("entitlements/<uuid:customer_ref>/", views.entitlement_api, name="entitlement"),
    path("credentials/verify/", views.credential_verify_api, name="credential_verify"),
]
