"""Exchange rates in the admin: a read-only list, plus staff entry of one rate by hand
with a reason (recorded as an event by billing.exchange.rate_enter_manually).
Imported by billing/admin.py."""

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from soldee.admin import ModelNamesAdminMixin

from . import exchange
from .models import ExchangeRate


class ManualRateForm(forms.ModelForm):
    published = forms.DecimalField(
        label=_("Rate as published"), min_value=Decimal("0.000001"), max_digits=18, decimal_places=6,
        help_text=_("Tenge per the quantity of units below, as the National Bank publishes it (e.g. 3.96 per "
                    "100 UZS)."),
    )
    quant = forms.IntegerField(label=_("Quantity of units"), min_value=1, max_value=1_000_000, initial=1,
                               help_text=_("1 for most currencies; 100 or 1000 where the National Bank quotes "
                                           "per 100 or 1000 units."))

    confirm_jump = forms.BooleanField(
        label=_("I have checked this rate"), required=False,
        help_text=_("Needed when the rate is far from the previous one, or is the first of its currency."))

    class Meta:
        model = ExchangeRate
        fields = ["currency", "rate_date", "published", "quant", "reason", "confirm_jump"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        offered = [c for c in exchange.offered_currencies() if c != "KZT"]
        self.fields["currency"] = forms.ChoiceField(label=_("Currency"), choices=[(c, c) for c in offered])
        self.fields["reason"].required = True

    def clean(self):
        data = super().clean()
        stored = ExchangeRate.objects.filter(currency=data.get("currency"), rate_date=data.get("rate_date")).first()
        if stored is not None:
            self.add_error("rate_date", _(
                "A rate for %(currency)s of %(date)s is already stored: %(rate)s ₸ per unit. Stored rates are "
                "never changed (payments may have been charged at it).") % {
                "currency": stored.currency, "date": stored.rate_date.strftime("%d.%m.%Y"),
                "rate": exchange.format_rate(stored.kzt_per_unit)})
            return data
        published, quant = data.get("published"), data.get("quant")
        if published and quant:
            per_unit = exchange._per_unit(published, quant)
            if per_unit <= 0:
                self.add_error("published", _("Too small to store: use a larger quantity."))
            # Set before model validation so the constraints are checked on real values.
            self.instance.kzt_per_unit = per_unit
            if per_unit > 0 and data.get("currency") and data.get("rate_date"):
                problem = exchange.manual_rate_problem(currency=data["currency"], rate_date=data["rate_date"],
                                                       per_unit=per_unit, allow_jump=bool(data.get("confirm_jump")))
                if problem:
                    what, message = problem
                    self.add_error("rate_date" if what == "date" else "confirm_jump", message)
        return data


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ModelNamesAdminMixin, admin.ModelAdmin):
    list_display = ("rate_date", "currency", "kzt_per_unit", "quant", "source", "reason", "entered_by",
                    "imported_at")
    list_filter = ("currency", "source", ("rate_date", admin.DateFieldListFilter))
    search_fields = ("currency", "reason")
    date_hierarchy = "rate_date"
    list_select_related = ("entered_by",)
    form = ManualRateForm

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ExchangeRate._meta.fields] if obj else []

    def get_fields(self, request, obj=None):
        if obj:  # viewing a stored rate
            return ["currency", "rate_date", "kzt_per_unit", "quant", "source", "reason", "entered_by",
                    "imported_at"]
        return ["currency", "rate_date", "published", "quant", "reason", "confirm_jump"]

    def get_form(self, request, obj=None, **kwargs):
        if obj:  # view-only: the plain model form, every field read-only
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        return False  # a stored rate is evidence: payments point at its date

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        rate = exchange.rate_enter_manually(
            currency=data["currency"], rate_date=data["rate_date"], published=data["published"],
            quant=data["quant"], reason=data["reason"], by=request.user, allow_jump=bool(data.get("confirm_jump")),
        )
        obj.pk, obj.kzt_per_unit, obj.source, obj.entered_by = rate.pk, rate.kzt_per_unit, rate.source, rate.entered_by
