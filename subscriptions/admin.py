from django import forms
from django.contrib import admin, messages
from django.db.models import Case, F, Q, Subquery, Value, When
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.personal_data import consent_withdrawn
from billing import exchange
from billing.models import PaymentMethod
from soldee.admin import ModelNamesAdminMixin, ReadOnlyAdminMixin, confirmation_page
from soldee.money import format_money

from . import credentials, renewals, services
from .models import (
    AccessGrant,
    AgentCredential,
    AgentPlatformKey,
    RenewalAttempt,
    Subscription,
    Term,
)


class CustomerAskedForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("How and when the customer asked for it"), max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("E.g. 'E-mail from the customer of 29.11.2026, ticket 123'. Kept with the event as "
                               "evidence; not sent to the customer."))


class RenewalAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RenewalAttempt
    fields = ("term_number", "attempt_no", "kind", "status", "payment", "created_at", "finished_at", "error")
    readonly_fields = fields
    extra = 0


class TermInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Term
    fields = ("number", "starts_at", "ends_at", "plan", "payment")
    extra = 0


@admin.register(Subscription)
class SubscriptionAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("customer", "plan", "status", "auto_renew", "paid_from", "paid_until",
                    "next_charge_at", "failed_attempts")
    list_filter = ("status", "auto_renew", "plan", "end_reason")
    search_fields = ("customer__email", "customer__profile__name")
    inlines = [TermInline, RenewalAttemptInline]
    list_select_related = ("customer", "plan")
    ordering = ("next_charge_at",)
    actions = ["renewal_off", "renewal_on", "retry_now"]

    def get_queryset(self, request):
        """Each row with its term in use (services.terms_in_use), in the list's own query:
        "paid from / paid until" show it and sort by it. A renewal paid ahead (the saved card
        is charged before the end, or a second invoice) makes the subscription's stored
        period the NEXT term; the list shows, and sorts by, the one in use (sorting by the
        stored period put such a row among those starting a month later)."""
        now = timezone.now()
        in_use = services.terms_in_use(now=now)
        stored = Q(current_period_start__lte=now)  # the stored period is the term in use
        return super().get_queryset(request).annotate(
            paid_ahead=Case(When(stored, then=Value(False)), default=Value(True)),
            in_use_from=Case(When(stored, then=F("current_period_start")),
                             default=Subquery(in_use.values("starts_at")[:1])),
            in_use_until=Case(When(stored, then=F("current_period_end")),
                              default=Subquery(in_use.values("ends_at")[:1])))

    @admin.display(description=gettext_lazy("paid from"), ordering="in_use_from")
    def paid_from(self, sub):
        return sub.in_use_from

    @admin.display(description=gettext_lazy("paid until"), ordering="in_use_until")
    def paid_until(self, sub):
        if not sub.paid_ahead:
            return sub.in_use_until
        ahead_to = _("paid ahead to %(date)s") % {
            "date": formats.date_format(timezone.localtime(sub.current_period_end), "DATETIME_FORMAT")}
        if sub.in_use_until is None:
            return ahead_to
        return format_html("{}<br>{}", formats.date_format(timezone.localtime(sub.in_use_until), "DATETIME_FORMAT"),
                           ahead_to)

    def has_charge_permission(self, request):
        # Charging a card or changing renewal needs the change permission on subscriptions
        # (the admin itself shows them read-only: evidence is never edited here).
        return request.user.has_perm("subscriptions.change_subscription")

    @admin.action(description=gettext_lazy("Retry the renewal charge now"), permissions=["charge"])
    def retry_now(self, request, queryset):
        """Charges the selected subscriptions only (the sweep's claim and charge), one
        message each, after a confirmation that lists what each card is charged."""
        page = confirmation_page(
            self, request, queryset, title=_("Charge the saved cards now?"),
            warning=_("Each selected subscription's saved card is charged for its next term now (a past-due one: "
                      "an extra try that uses up none of the customer's retries)."),
            describe=self._retry_note)
        if page is not None:
            return page
        for subscription in queryset.select_related("customer", "plan"):
            sub = self._label(subscription)
            try:
                attempt = renewals.renewal_retry_now(subscription_id=subscription.pk, by=request.user)
            except ValueError as exc:
                self.message_user(request, f"{sub}: {exc}", level=messages.ERROR)
                continue
            if attempt is None:
                self.message_user(request, _("%(sub)s: not charged now: a charge of it is under way, or no exchange "
                                             "rate is available (the renewal sweep goes on with it).") % {"sub": sub},
                                  level=messages.WARNING)
            elif attempt.status == RenewalAttempt.Status.SUCCEEDED:
                self.message_user(request, _("%(sub)s: paid, %(amount)s; the next term has started or starts at the "
                                             "end of the current one.") % {
                    "sub": sub, "amount": format_money(attempt.payment.amount_minor, attempt.payment.currency)})
            elif attempt.status == RenewalAttempt.Status.DECLINED:
                self.message_user(request, self._declined_text(sub, attempt), level=messages.WARNING)
            else:
                self.message_user(request, _("%(sub)s: the gateway's answer is not known yet; reconciliation asks "
                                             "it again in a few minutes.") % {"sub": sub}, level=messages.WARNING)

    @staticmethod
    def _retry_note(sub) -> str:
        """What "retry now" will do to this row, said before it is confirmed (found by the
        staff explorer: rows that would be refused read as if they were to be charged)."""
        amount, no_rate = SubscriptionAdmin._renewal_charge(sub)
        # (the row's own label above already says the status)
        note = _("%(amount)s · paid until %(date)s") % {
            "amount": amount,
            "date": formats.date_format(timezone.localtime(sub.current_period_end), "DATETIME_FORMAT")}
        if not sub.is_live or not sub.auto_renew:
            return note + " — " + _("not charged: renewal is off or the subscription has ended.")
        if consent_withdrawn(sub.customer):
            return note + " — " + _("not charged: the customer has withdrawn consent to the processing of personal "
                                    "data.")
        if sub.status != Subscription.Status.PAST_DUE and (sub.next_charge_at is None
                                                           or sub.next_charge_at > timezone.now()):
            return note + " — " + _("not charged: its renewal is not due yet.")
        if not PaymentMethod.objects.filter(customer_id=sub.customer_id, is_active=True).exists():
            return note + " — " + _("no saved card: the customer pays by invoice or with a new card.")
        if no_rate:
            return note + " — " + no_rate
        return note

    @staticmethod
    def _renewal_charge(sub) -> tuple[str, str]:
        """(what the renewal charges now, "") as renewals_claim converts it: the KZT price, or
        a non-resident's amount in their currency at today's National Bank rate; or (the KZT
        price, why nothing can be charged now) when there is no rate to convert it."""
        price = sub.renewal_price_display
        try:
            conversion = exchange.conversion_for(customer=sub.customer, kzt_amount_minor=sub.renewal_price_minor,
                                                 on=timezone.now())
        except exchange.CurrencyNotChosen as exc:
            return price, _("not charged now: the customer is a non-resident whose profile names no currency "
                            "offered to non-residents (%(currency)s). Correct their payment currency in Customer "
                            "profiles.") % {"currency": exc.currency or "—"}
        except exchange.RateUnavailable as exc:
            return price, _("not charged now: there is no National Bank rate for %(currency)s of %(date)s to convert "
                            "the price into the customer's currency. The renewal sweep tries again every hour; "
                            "import or enter the rate (Exchange rates).") % {
                "currency": exc.currency, "date": formats.date_format(exc.on, "SHORT_DATE_FORMAT")}
        if conversion.currency == "KZT":
            return conversion.amount_display, ""
        return exchange.describe_conversion(
            currency=conversion.currency, amount_minor=conversion.amount_minor,
            kzt_amount_minor=conversion.kzt_amount_minor, rate=conversion.rate, rate_date=conversion.rate_date,
            source=conversion.source), ""

    @staticmethod
    def _label(subscription) -> str:
        # "#12 carol@…": the admin capitalises the first letter of a message (capfirst).
        return f"#{subscription.pk} {subscription.customer} · {subscription.plan}"

    @staticmethod
    def _declined_text(label: str, attempt: RenewalAttempt) -> str:
        after = Subscription.objects.get(pk=attempt.subscription_id)
        reason = attempt.error or "—"
        if not after.is_live:
            return _("%(sub)s: declined (%(reason)s). That was the last try: the subscription has lapsed and the "
                     "customer is told.") % {"sub": label, "reason": reason}
        when = formats.date_format(timezone.localtime(after.next_charge_at), "DATETIME_FORMAT") \
            if after.next_charge_at else "—"
        if attempt.kind == RenewalAttempt.Kind.STAFF:
            return _("%(sub)s: declined (%(reason)s). An extra try: the customer's retry schedule is unchanged, "
                     "next automatic try on %(date)s.") % {"sub": label, "reason": reason, "date": when}
        return _("%(sub)s: declined (%(reason)s). The customer is e-mailed; next automatic try on %(date)s.") % {
            "sub": label, "reason": reason, "date": when}

    def _set(self, request, queryset, on):
        if queryset.count() != 1:  # the reason is one customer's request: it is evidence for that one only
            self.message_user(request, _("Select one subscription: the reason recorded is that customer's own "
                                         "request."), level=messages.ERROR)
            return None
        page = confirmation_page(
            self, request, queryset, form_class=CustomerAskedForm,
            title=_("Turn automatic renewal on") if on else _("Turn automatic renewal off"),
            warning=_("Only at the customer's own request: with renewal on, their saved card is charged for the "
                      "next term before the current one ends. The reason is kept as evidence; the customer is "
                      "e-mailed.") if on else _(
                "Only at the customer's own request (clause 6.5 gives them this in their account): access runs "
                "to the end of the paid term, then the subscription ends. The reason is kept as evidence; the "
                "customer is e-mailed."),
            describe=lambda sub: self._renewal_change_effect(sub, on))
        if page is not None:
            return page
        changed = 0
        for sub in queryset:
            try:
                services.subscription_set_auto_renew(subscription_id=sub.pk, on=on, by=request.user,
                                                     reason=request.confirmed_data["reason"])
            except services.CheckoutRefused as exc:
                self.message_user(request, f"{self._label(sub)}: {exc}", level=messages.ERROR)
            else:
                changed += 1
        if changed:  # only what was done: a refusal above is not followed by "Done."
            self.message_user(request, ngettext("Automatic renewal changed for %(n)d subscription.",
                                                "Automatic renewal changed for %(n)d subscriptions.", changed)
                              % {"n": changed})

    @staticmethod
    def _renewal_change_effect(sub, on: bool) -> str:
        paid_until = _("Paid until %(date)s") % {
            "date": formats.date_format(timezone.localtime(sub.current_period_end), "DATETIME_FORMAT")}
        if not on and sub.is_live and sub.current_period_end <= timezone.now():
            # Past due after its paid term: nothing paid is left, so it ends at once.
            return paid_until + ". " + _("The paid term is over: the subscription ends NOW and cannot be renewed "
                                         "again; the customer can buy a plan anew.")
        if on and sub.is_live and services.refunded_ahead(sub):
            # Said before staff type a reason, not only after (the service refuses it anyway).
            return paid_until + ". " + _("Will be refused: the next term's payment was refunded, so the "
                                         "subscription ends with the term in use; the customer buys a plan again "
                                         "after it ends.")
        ahead = services.paid_ahead_term(sub) if not on and sub.is_live else None
        if ahead is not None:  # what the customer's own page offers them here (selectors.paid_ahead_refund)
            return paid_until + ". " + _("The next term is paid already (from %(start)s) and stays paid. If the "
                                         "customer wants that money back, they ask for it on their refunds page "
                                         "(payment %(payment)s, ground: access not granted; the term has not "
                                         "begun): the \"renewal is off\" e-mail and their personal account give "
                                         "them the link.") % {
                "start": formats.date_format(timezone.localtime(ahead.starts_at), "DATETIME_FORMAT"),
                "payment": ahead.payment.public_id}
        return paid_until

    @admin.action(description=gettext_lazy("Turn automatic renewal off (at the customer's request)"),
                  permissions=["charge"])
    def renewal_off(self, request, queryset):
        return self._set(request, queryset, False)

    @admin.action(description=gettext_lazy("Turn automatic renewal on (at the customer's request)"),
                  permissions=["charge"])
    def renewal_on(self, request, queryset):
        return self._set(request, queryset, True)


class BreachFilter(admin.SimpleListFilter):
    title = gettext_lazy("30-minute deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [("missed", _("Missed (flagged)")), ("ok", _("Met"))]

    def queryset(self, request, queryset):
        if self.value() == "missed":
            return queryset.filter(breached_at__isnull=False)
        if self.value() == "ok":
            return queryset.filter(breached_at__isnull=True)
        return queryset


@admin.register(AccessGrant)
class AccessGrantAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("customer", "term", "status", "requested_at", "deadline_at", "granted_at", "breached_at", "attempts")
    list_filter = ("status", BreachFilter)
    search_fields = ("customer__email",)
    list_select_related = ("customer", "term")


@admin.register(AgentPlatformKey)
class AgentPlatformKeyAdmin(ModelNamesAdminMixin, admin.ModelAdmin):
    list_display = ("name", "prefix", "is_active", "created_at")
    fields = ("name", "is_active")

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = AgentPlatformKey.issue(obj.name)
        obj.pk = key.pk
        self.message_user(request, f"New key (shown once, copy it now): {raw}", level=messages.WARNING)


@admin.register(RenewalAttempt)
class RenewalAttemptAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "subscription", "term_number", "attempt_no", "kind", "status", "payment", "error")
    list_filter = ("status", "kind")
    search_fields = ("subscription__customer__email", "payment__public_id")
    list_select_related = ("subscription__customer", "payment")


@admin.register(AgentCredential)
class AgentCredentialAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Customers' keys for the AI agent (clause 8). Staff revoke a key passed to a third
    party; the customer keeps the subscription and may create a new key."""

    list_display = ("customer", "prefix", "created_at", "last_used_at", "revoked_at", "revoke_reason")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("customer__email", "prefix")
    list_select_related = ("customer",)
    exclude = ("key_hash",)
    actions = ["revoke_transferred"]

    def has_revoke_permission(self, request):
        return request.user.has_perm("subscriptions.change_agentcredential")

    @admin.action(description=gettext_lazy("Revoke: passed to a third party (clause 8)"), permissions=["revoke"])
    def revoke_transferred(self, request, queryset):
        queryset = queryset.filter(revoked_at__isnull=True)
        page = confirmation_page(self, request, queryset, title=_("Revoke these access keys?"), warning=_(
            "The customer's AI agent stops accepting each key at once, and the agent platform is told. The "
            "subscription is not touched: the customer can create a new key in the personal account."))
        if page is not None:
            return page
        revoked = 0
        for pk in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            credentials.credential_revoke(credential_id=pk, by=request.user, transferred=True,
                                          reason="passed to a third party (clause 8 of the offer)")
            revoked += 1
        self.message_user(request, _("Keys revoked: %(count)d. The AI agent no longer accepts them.")
                          % {"count": revoked})
