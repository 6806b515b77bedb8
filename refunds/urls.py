from django.urls import path

from . import views

app_name = "refunds"

urlpatterns = [
    path("", views.index, name="index"),
    path("errors/new/", views.error_report_create, name="error_report_create"),
    path("errors/<int:pk>/", views.error_report_detail, name="error_report_detail"),
    path("errors/<int:pk>/attachment/", views.error_report_attachment, name="error_report_attachment"),
    path("payments/<uuid:public_id>/request/", views.request_create, name="request_create"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/withdraw/", views.request_withdraw, name="request_withdraw"),
    path("subscriptions/<int:subscription_id>/next-term/", views.next_term_refund, name="next_term_refund"),
]
