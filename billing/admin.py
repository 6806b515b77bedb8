from django.contrib import admin

from soldee.admin import ReadOnlyAdminMixin

from . import admin_rates  # noqa: F401  (ExchangeRateAdmin)
from .models import IncomingNotification, Payment, PaymentMethod, SandboxTransaction


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "customer", "amount_display", "status", "method", "purpose",
                    "kzt_amount_minor", "exchange_rate", "exchange_rate_date",
                    "paid_at", "gateway_ref", "card_mask")
    list_filter = ("status", "method", "purpose", "gateway", "currency")
    search_fields = ("public_id", "gateway_ref", "customer__email", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("customer",)


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("customer", "card_mask", "gateway", "is_active", "created_at")
    search_fields = ("customer__email",)


@admin.register(IncomingNotification)
class IncomingNotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "gateway", "event_type", "event_id", "outcome", "processed_at")
    list_filter = ("gateway", "event_type", "outcome")
    search_fields = ("event_id", "body")


@admin.register(SandboxTransaction)
class SandboxTransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "invoice_id", "amount_minor", "currency", "status", "card_last4")
    list_filter = ("kind", "status")
