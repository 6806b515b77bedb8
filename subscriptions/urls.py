from django.urls import path

from . import views

app_name = "subscriptions"

urlpatterns = [
    path("", views.account, name="account"),
    path("checkout/<slug:plan_code>/", views.checkout, name="checkout"),
    path("subscriptions/<int:subscription_id>/renewal/", views.renewal, name="renewal"),
    path("subscriptions/<int:subscription_id>/pay/", views.renewal_pay, name="renewal_pay"),
]
