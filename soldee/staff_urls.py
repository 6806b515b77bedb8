"""Staff pages under /admin/, each behind admin.site.admin_view (active staff, the
admin's login; the staff MFA middleware covers every /admin/ path). Included in
soldee/urls.py BEFORE admin.site.urls, whose catch-all would otherwise answer first."""

from django.contrib import admin
from django.urls import path

from . import views_staff

app_name = "soldee_staff"

urlpatterns = [
    path("dashboard/", admin.site.admin_view(views_staff.dashboard), name="dashboard"),
    path("test-clock/", admin.site.admin_view(views_staff.test_clock_view), name="test_clock"),
]
