from django.urls import path

from . import views

app_name = "offer"

urlpatterns = [
    path("contacts/", views.contacts, name="contacts"),
    path("agreements/<int:acceptance_id>/copy/", views.copy_request, name="copy_request"),
    path("agreements/<int:acceptance_id>/copy/status/", views.copy_status, name="copy_status"),
    path("agreements/<int:acceptance_id>/copy/download/", views.copy_download, name="copy_download"),
    path("notices/<int:document_id>/dismiss/", views.notice_dismiss, name="notice_dismiss"),
    path("<slug:kind>/diff/<slug:a>/<slug:b>/", views.diff, name="diff"),
    path("<slug:kind>/", views.current, name="current"),
    path("<slug:kind>/versions/", views.versions, name="versions"),
    path("<slug:kind>/<slug:label>/", views.version, name="version"),
]
