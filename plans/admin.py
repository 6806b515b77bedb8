from decimal import Decimal

from django import forms
from django.contrib import admin
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from soldee import events
from soldee.admin import ModelNamesAdminMixin, form_changes, money_column
from soldee.models import Event
from soldee.money import format_money, minor_to_decimal

from .models import Plan


class PlanForm(forms.ModelForm):
    """The price in tenge (stored in tiyn). A new price of a plan that live subscriptions
    renew at must be confirmed: they are charged it from their next renewal."""

    price = forms.DecimalField(label=_("Price, ₸ per 30 days"), max_digits=14, decimal_places=2,
                               min_value=Decimal("0.01"), help_text=_("In tenge, for example 29900 or 29900.50."))
    confirm_price = forms.BooleanField(label=_("I have checked the new price"), required=False)
    # When the plan was last saved as this page shows it: a save from a page opened before
    # another change (a second tab, a colleague) would put the old values back silently.
    loaded_at = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Plan
        fields = ["code", "name", "description", "features", "translations", "price", "confirm_price",
                  "is_active", "display_order", "loaded_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The price as stored before this form (clean() sets the new one on the instance).
        self.stored_price_minor = self.instance.price_minor if self.instance.pk else None
        if self.instance.pk:
            self.initial["price"] = minor_to_decimal(self.instance.price_minor, self.instance.currency)
            self.initial["loaded_at"] = self.instance.updated_at.isoformat()

    def clean(self):
        data = super().clean()
        if self.instance.pk and self.is_bound:
            saved = Plan.objects.filter(pk=self.instance.pk).values_list("updated_at", flat=True).first()
            if saved is not None and data.get("loaded_at") != saved.isoformat():
                raise forms.ValidationError(_(
                    "This plan was changed after this page was opened (in another tab or by a colleague): saving "
                    "would undo that change. Reload the page and make your change again."), code="stale")
        price = data.get("price")
        if price is None:
            return data
        self.instance.price_minor = int(price * 100)
        old = self.stored_price_minor
        if old is not None and old != self.instance.price_minor and not data.get("confirm_price"):
            from subscriptions.models import LIVE_STATUSES, Subscription

            subs = Subscription.objects.filter(plan_id=self.instance.pk, status__in=LIVE_STATUSES)
            live = subs.count()
            # A raise does not reach subscriptions already reminded of the old price
            # (Subscription.renewal_price_minor): they pay it once more.
            reminded = subs.filter(reminder_sent_for=F("current_period_end"),
                                   reminded_price_minor__lt=self.instance.price_minor).count()
            if live:
                self.add_error("confirm_price", ngettext(
                    "%(count)d live subscription renews at this plan's price: from its next renewal it is "
                    "charged %(new)s instead of %(old)s. Check the price and tick the box.",
                    "%(count)d live subscriptions renew at this plan's price: from their next renewal they are "
                    "charged %(new)s instead of %(old)s. Check the price and tick the box.", live) % {
                    "count": live, "new": format_money(self.instance.price_minor, "KZT"),
                    "old": format_money(old, "KZT")})
                if reminded:
                    self.add_error("confirm_price", ngettext(
                        "%(count)d of them has been told a lower amount in its renewal reminder: it is charged "
                        "that amount at its next renewal, the new price from the one after.",
                        "%(count)d of them have been told a lower amount in their renewal reminders: they are "
                        "charged that amount at their next renewal, the new price from the one after.",
                        reminded) % {"count": reminded})
        return data


@admin.register(Plan)
class PlanAdmin(ModelNamesAdminMixin, admin.ModelAdmin):
    form = PlanForm
    list_display = ("name", "code", "price_column", "is_active", "display_order")
    list_editable = ("is_active", "display_order")

    price_column = money_column("price_minor", description=_("price, 30 days"))
    list_filter = ("is_active",)
    search_fields = ("name", "code")

    def has_delete_permission(self, request, obj=None):
        return False  # archive instead: plans stay on existing subscriptions

    def get_readonly_fields(self, request, obj=None):
        # Payments, invoices and acceptances name a plan by its code: renaming it would leave
        # an invoice awaiting its bank transfer pointing at nothing.
        return ("code",) if obj else ()

    def save_model(self, request, obj, form, change):
        """Every change of the price list is on record (what the website offered when,
        clause 6.1): an event with each changed field's old and new value. The admin saves
        in a transaction, so the plan and its event are written together."""
        # The list's on-sale tick saves through another form, which never touches the price.
        old_price = getattr(form, "stored_price_minor", obj.price_minor) if change else None
        super().save_model(request, obj, form, change)
        changes = form_changes(form, change, skip=("price", "confirm_price"))  # the price: in tiyn, below
        if old_price != obj.price_minor:
            changes["price_minor"] = {"from": old_price, "to": obj.price_minor}
        if change and not changes:
            return
        events.record(verb="plan.changed" if change else "plan.created", subject=obj, actor=request.user,
                      actor_kind=Event.ActorKind.STAFF, data={"code": obj.code, "changes": changes})
