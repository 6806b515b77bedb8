from django.urls import path

from . import views

app_name = "offer"

urlpatterns = [
    path("contacts/", views.contacts, name="contacts"),
    path("<slug:kind>/", views.current, name="current"),
    path("<slug:kind>/versions/", views.versions, name="versions"),
    path("<slug:kind>/<slug:label>/", views.version, name="version"),
]
