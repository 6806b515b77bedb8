from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from billing.exchange import currency_choices, offered_currencies
from soldee.provider import provider_details

from .models import CustomerProfile
from .validators import is_legal_entity_bin, is_valid_iin_bin


class SignupForm(AllauthSignupForm):
    consent = forms.BooleanField(
        required=True,
        error_messages={"required": _("We cannot open an account without this consent.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_fields([*[f for f in self.fields if f != "consent"], "consent"])
        self.fields["consent"].label = format_html(
            _('I consent to the processing of my personal data under the <a href="{}">Privacy Policy</a>.'),
            reverse("offer:current", kwargs={"kind": "privacy"}),
        )

    def save(self, request):
        from . import services

        user = super().save(request)
        services.consent_record(user=user, request=request)
        return user


PHONE_CHARS = frozenset("0123456789+()- ")  # an international number as people write it (E.164: 15 digits)


class CustomerProfileForm(forms.ModelForm):
    class Meta:
        model = CustomerProfile
        fields = [
            "kind", "name", "iin_bin", "signatory_name", "signatory_basis", "address",
            "postal_address", "phone", "is_resident", "country", "payment_currency",
        ]
        widgets = {
            "kind": forms.RadioSelect,
            "address": forms.Textarea(attrs={"rows": 2}),
            "postal_address": forms.Textarea(attrs={"rows": 2}),
            "iin_bin": forms.TextInput(attrs={"inputmode": "numeric", "maxlength": 12,
                                              "autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = CustomerProfile.Kind.choices
        self.fields["payment_currency"] = forms.ChoiceField(
            label=capfirst(_("payment currency")), choices=currency_choices(), required=False,
            help_text=_("Non-residents pay the tenge price converted at the National Bank of Kazakhstan rate in force "
                        "when the payment is started (checkout, or the renewal charge); checkout shows it."),
        )

    def clean_iin_bin(self):
        number = (self.cleaned_data.get("iin_bin") or "").strip()
        if number and number == settings.PROVIDER["bin"]:
            # Copied from our own invoice or footer: an agreement with STG LLP as its own customer.
            raise forms.ValidationError(_("This is the BIN of %(provider)s, the provider; enter your own IIN or BIN.")
                                        % {"provider": provider_details().name})
        return number

    def clean_phone(self):
        phone = " ".join((self.cleaned_data.get("phone") or "").split())
        digits = sum(ch.isdigit() for ch in phone)
        if phone and (not PHONE_CHARS.issuperset(phone) or not 7 <= digits <= 15):
            raise forms.ValidationError(_("Enter a phone number: digits, with + ( ) - and spaces, "
                                          "for example +7 701 123 45 67."))
        return phone

    def clean_country(self):
        return (self.cleaned_data.get("country") or "").strip().upper()

    def clean(self):
        data = super().clean()
        kind, number = data.get("kind"), data.get("iin_bin")
        if kind and number and is_valid_iin_bin(number) and "iin_bin" not in self.errors:
            if kind == CustomerProfile.Kind.LEGAL_ENTITY and not is_legal_entity_bin(number):
                self.add_error("iin_bin", _("This looks like an individual's IIN; a legal entity has a BIN."))
            if kind == CustomerProfile.Kind.INDIVIDUAL and is_legal_entity_bin(number):
                self.add_error("iin_bin", _("This looks like a company's BIN; an individual has an IIN."))
        if kind == CustomerProfile.Kind.LEGAL_ENTITY:
            for field in ("signatory_name", "signatory_basis"):
                if not data.get(field):
                    self.add_error(field, _("Required for a legal entity."))
        elif kind == CustomerProfile.Kind.INDIVIDUAL:
            # An individual signs for themself: the fields are hidden for them, and what was
            # typed while "Legal entity" was chosen must not reach the agreement.
            data["signatory_name"] = data["signatory_basis"] = ""
        if data.get("is_resident") and not number and "iin_bin" not in self.errors:
            self.add_error("iin_bin", _("Required for a resident of Kazakhstan."))
        if data.get("is_resident"):
            if data.get("payment_currency") not in ("", None, "KZT"):
                # Saved as KZT without a word, the customer would learn it only at checkout.
                self.add_error("payment_currency", _(
                    "A resident of Kazakhstan pays in tenge (clause 6.2 of the Public Offer): choose KZT, or untick "
                    "“resident of Kazakhstan” if you are not one."))
            else:
                data["payment_currency"] = "KZT"
        elif data.get("is_resident") is False and data.get("payment_currency") not in offered_currencies():
            self.add_error("payment_currency", _("Choose the currency you will pay in."))
        country = data.get("country")
        if country is not None:
            if len(country) != 2 or not country.isalpha():
                self.add_error("country", _("Use the two-letter country code, for example KZ."))
            elif data.get("is_resident") and country != "KZ":
                self.add_error("country", _("A resident of Kazakhstan has country KZ."))
            elif data.get("is_resident") is False and country == "KZ":
                self.add_error("country", _("Choose the country of a non-resident (not KZ)."))
        return data


class DeletionRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you leaving? (optional)"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        required=True,
        label=_("I understand that my account will be closed and my personal details removed; "
                "records the law requires us to keep (payments, agreements) are kept."),
        error_messages={"required": _("Please confirm that you want your account deleted.")},
    )


class ConsentForm(forms.Form):
    action = forms.ChoiceField(choices=[("withdraw", "withdraw"), ("give", "give")])
