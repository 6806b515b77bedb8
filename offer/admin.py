from django.contrib import admin, messages

from soldee.admin import ReadOnlyAdminMixin

from . import services
from .models import Acceptance, AcceptedDocument, LegalDocument


@admin.register(LegalDocument)
class LegalDocumentAdmin(admin.ModelAdmin):
    list_display = ("kind", "label", "effective_date", "status", "published_at", "short_hash")
    list_filter = ("kind", "status")
    search_fields = ("label", "title", "body")
    readonly_fields = ("sha256", "status", "published_at")
    actions = ["publish"]

    @admin.display(description="SHA-256")
    def short_hash(self, obj):
        return obj.sha256[:12]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:  # a published version never changes
            return [f.name for f in obj._meta.fields]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return obj is not None and not obj.is_published

    @admin.action(description="Publish the selected drafts")
    def publish(self, request, queryset):
        for doc in queryset.filter(status=LegalDocument.Status.DRAFT):
            try:
                services.document_publish(document_id=doc.pk, by=request.user)
                self.message_user(request, f"Published {doc}.")
            except ValueError as exc:
                self.message_user(request, f"{doc}: {exc}", level=messages.ERROR)


class AcceptedDocumentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AcceptedDocument
    fields = ("kind", "document", "sha256")
    extra = 0


@admin.register(Acceptance)
class AcceptanceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("accepted_at", "customer", "kind", "plan_code", "price_minor", "currency",
                    "payment_reference", "ip_address")
    list_filter = ("kind", "plan_code")
    search_fields = ("customer__email", "payment_reference", "payment__public_id")
    date_hierarchy = "accepted_at"
    inlines = [AcceptedDocumentInline]
    list_select_related = ("customer",)
