from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("entitlements/<uuid:customer_ref>/", views.entitlement_api, name="entitlement"),
]
