from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from soldee.admin import ReadOnlyAdminMixin

from .models import CustomerProfile, PersonalDataConsent, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "is_staff", "is_active", "date_joined", "language")
    search_fields = ("email", "profile__name", "profile__iin_bin")
    fieldsets = (
        (None, {"fields": ("email", "password", "public_id", "language")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("public_id",)
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(CustomerProfile)
class CustomerProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "iin_bin", "user", "is_resident", "country")
    list_filter = ("kind", "is_resident")
    search_fields = ("name", "iin_bin", "user__email")


@admin.register(PersonalDataConsent)
class PersonalDataConsentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "policy", "given_at", "ip_address", "withdrawn_at")
    search_fields = ("user__email",)
