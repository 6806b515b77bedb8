from django.contrib import admin

from .models import Event


class ReadOnlyAdminMixin:
    """Evidence is shown, never edited or deleted, in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "verb", "actor_kind", "actor", "customer", "subject_type", "subject_id")
    list_filter = ("verb", "actor_kind", "subject_type")
    search_fields = ("verb", "subject_id", "customer__email")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "customer")
