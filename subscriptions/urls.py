from django.urls import path

from . import views

app_name = "subscriptions"

urlpatterns = [
    path("", views.account, name="account"),
    path("payments/", views.payments_all, name="payments_all"),
    path("agreements/", views.agreements_all, name="agreements_all"),
    path("checkout/<slug:plan_code>/", views.checkout, name="checkout"),
    path("subscriptions/<int:subscription_id>/renewal/", views.renewal, name="renewal"),
    path("subscriptions/<int:subscription_id>/pay/", views.renewal_pay, name="renewal_pay"),
    path("agent-key/new/", views.agent_key_new, name="agent_key_new"),
    path("agent-key/revoke/", views.agent_key_revoke, name="agent_key_revoke"),
]
