from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.profile, name="profile"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/consent/", views.consent, name="consent"),
    path("privacy/delete/", views.deletion_request, name="deletion_request"),
    path("privacy/exports/", views.data_export_request, name="data_export_request"),
    path("privacy/exports/<uuid:public_id>/", views.data_export_detail, name="data_export_detail"),
    path("privacy/exports/<uuid:public_id>/download/", views.data_export_download,
         name="data_export_download"),
]
