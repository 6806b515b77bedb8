import json

from django.contrib import admin
from django.contrib.admin.options import ActionLocation
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils.translation import gettext_lazy as _

from .models import Event

# Every admin page's header and the browser tab: the portal's name, not Django's default
# ("Администрирование Django", "Django әкімшілігі").
admin.site.site_header = _("Soldee administration")
admin.site.site_title = _("Soldee administration")
# One mark for an empty value: Django's default "-" stood next to our columns' "—" in one
# list (payments: "— -" for the rate and its date). Columns return None to show it.
admin.site.empty_value_display = "—"


def _plain(value):
    if isinstance(value, models.Model):  # a foreign key: its primary key
        value = value.pk
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def form_changes(form, change: bool, *, skip=(), names_only=()) -> dict:
    """What an admin form changed, for the event log: {field: {"from": old, "to": new}}.
    A new row: every field, from None. Fields whose value did not really change (a JSON
    field re-typed, say) are left out. Fields in `names_only` (personal data: the event
    log is never edited, so anonymisation could not remove them) are recorded as changed,
    without their values."""
    changes = {}
    for name in form.changed_data if change else form.cleaned_data:
        if name in skip:
            continue
        before = _plain(form.initial.get(name)) if change else None
        after = _plain(form.cleaned_data.get(name))
        if before != after:
            changes[name] = {"changed": True} if name in names_only else {"from": before, "to": after}
    return changes


class ModelNamesAdminMixin:
    """Django's own messages about this model's objects ("2 plans were changed successfully",
    "Successfully deleted 5 …", "The subscription “…” was changed successfully") said with
    the number's form and the name's gender: soldee.model_names.reworded; the delete action's
    label with the name as an object. The admin's pages name the model through the
    soldee_admin template tags (templates/admin). Every admin of the project's models and
    allauth's has it (tests/i18n/test_admin_messages.py)."""

    def message_user(self, request, message, *args, **kwargs):
        from . import model_names

        return super().message_user(request, model_names.reworded(self.opts, message), *args, **kwargs)

    def get_action_choices(self, request, default_choices=None, action_location=ActionLocation.CHANGE_LIST):
        """Django's "Delete selected …" with the name as an object ("Удалить выбранных
        пользователей") and a capital ("Топтар: таңдалғандарын жою")."""
        from django.contrib.admin.actions import delete_selected

        from . import model_names

        choices = super().get_action_choices(request, default_choices, action_location)
        actions = self.get_actions(request, action_location=action_location)
        return [(name, model_names.delete_selected_action(self.opts)
                 if name in actions and actions[name].func is delete_selected else label)
                for name, label in choices]


class StaffViewAuditMixin:
    """Staff opening a customer's record (its change/view page) is recorded in the event
    log as `staff.viewed` (RK Law on Personal Data: who accessed personal data, when).
    `audit_customer_field` names the field holding the customer ("" = the row is the user)."""

    audit_customer_field = "customer"

    def audit_customer(self, obj):
        from django.contrib.auth import get_user_model

        if isinstance(obj, get_user_model()) or not self.audit_customer_field:
            return obj
        return getattr(obj, self.audit_customer_field, None)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and getattr(response, "status_code", None) == 200:
            from django.contrib.admin.utils import unquote

            from . import events

            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                events.record(verb="staff.viewed", subject=obj, customer=self.audit_customer(obj),
                              actor=request.user, actor_kind=Event.ActorKind.STAFF,
                              data={"model": obj._meta.label_lower, "path": request.path})
        return response


def money_column(minor_field: str, *, description, currency: str | None = None, currency_field: str = "currency"):
    """An admin list column showing a stored minor-unit amount as money ("₸29,900"), sorted by
    the stored value: `amount = money_column("amount_minor", description=_("amount"))`."""
    from .money import format_money

    @admin.display(description=description, ordering=minor_field)
    def column(self, obj):
        value = getattr(obj, minor_field)
        return format_money(value, currency or getattr(obj, currency_field)) if value is not None else None
    return column


# The labels of stored minor-unit amounts on read-only change pages (ReadOnlyAdminMixin).
MONEY_FIELD_LABELS = {
    "amount_minor": _("amount"),
    "kzt_amount_minor": _("amount in tenge"),
    "refunded_minor": _("refunded"),
    "price_minor": _("price"),
    "reminded_price_minor": _("price stated in the renewal reminder"),
}


def _money_field(model, name: str):
    """A read-only display of the model's integer `name` (tiyn, cents) as money, or None
    when no currency is known for it: "kzt_*" is tenge, otherwise the row's `currency`
    (a subscription's reminded price is tenge: the plan's price)."""
    from .money import format_money

    field_names = {f.name for f in model._meta.concrete_fields}
    if name.startswith("kzt_") or (name == "reminded_price_minor" and "currency" not in field_names):
        fixed_currency = "KZT"
    elif "currency" in field_names:
        fixed_currency = None
    else:
        return None

    @admin.display(description=MONEY_FIELD_LABELS.get(name, name.removesuffix("_minor").replace("_", " ")))
    def show(obj):
        value = getattr(obj, name)
        return format_money(value, fixed_currency or obj.currency) if value is not None else "—"
    return show


class ReadOnlyAdminMixin:
    """Evidence is shown, never edited or deleted, in the admin. Stored minor-unit amounts
    ("amount_minor": 2990000) are shown as money ("₸29,900") on the change page."""

    def __init__(self, *args, **kwargs):  # a ModelAdmin's (model, site) or an inline's (parent, site)
        super().__init__(*args, **kwargs)
        self._money_displays = {}
        for field in self.model._meta.concrete_fields:
            if field.name.endswith("_minor") and (show := _money_field(self.model, field.name)) is not None:
                self._money_displays[field.name] = f"{field.name}_as_money"
                setattr(self, f"{field.name}_as_money", show)

    def _as_money(self, names):
        shown = [self._money_displays.get(name, name) if isinstance(name, str) else name for name in names]
        return list(dict.fromkeys(shown))  # a form field and its read-only twin: once

    def get_fields(self, request, obj=None):
        return self._as_money(super().get_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return self._as_money(super().get_readonly_fields(request, obj))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def distinct_values(model, field_name: str) -> list[str]:
    """The distinct values of `field_name`, a column an index leads with, in order. The event
    log is the largest table (five rows a renewal): a `SELECT DISTINCT` on every list page
    read the whole index. On PostgreSQL a loose index scan instead jumps from one value to
    the next (a recursive query, one index probe per distinct value)."""
    if connection.vendor != "postgresql":
        return list(model.objects.order_by(field_name).values_list(field_name, flat=True).distinct())
    qn = connection.ops.quote_name
    table, column = qn(model._meta.db_table), qn(model._meta.get_field(field_name).column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE v(x) AS ((SELECT {column} FROM {table} ORDER BY {column} LIMIT 1) "
            f"UNION ALL SELECT (SELECT {column} FROM {table} WHERE {column} > v.x ORDER BY {column} LIMIT 1) "
            f"FROM v WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL")
        return [value for (value,) in cursor.fetchall()]


class VerbFilter(admin.SimpleListFilter):
    """The events logged, by their wording for staff with the code beside it (the field's own
    filter listed the codes only)."""
    title = _("event")
    parameter_name = "verb"

    def lookups(self, request, model_admin):
        from .event_texts import staff_verb

        verbs = distinct_values(Event, "verb")
        return [(verb, f"{staff_verb(verb)} ({verb})") for verb in verbs]

    def queryset(self, request, queryset):
        return queryset.filter(verb=self.value()) if self.value() else queryset


def subject_type_name(label: str):
    """An event subject's model ("refunds.refund") by its name for staff ("возврат"), or the
    label itself when no model has it."""
    from django.apps import apps

    try:
        return apps.get_model(label)._meta.verbose_name
    except (LookupError, ValueError):
        return label


class SubjectTypeFilter(admin.SimpleListFilter):
    """The subjects' models by name, the stored label beside it (the field's own filter listed
    "accounts.customerprofile")."""
    title = _("subject type")
    parameter_name = "subject_type"

    def lookups(self, request, model_admin):
        from django.utils.text import capfirst

        labels = distinct_values(Event, "subject_type")
        return sorted(((label, f"{capfirst(subject_type_name(label))} ({label})") for label in labels),
                      key=lambda choice: choice[1])

    def queryset(self, request, queryset):
        return queryset.filter(subject_type=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(ModelNamesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "event", "actor_kind", "actor", "customer", "subject", "subject_id")
    list_filter = (VerbFilter, "actor_kind", SubjectTypeFilter)
    search_fields = ("verb", "subject_type", "subject_id", "customer__email")

    @admin.display(description=_("subject type"), ordering="subject_type")
    def subject(self, obj):
        """The model by name, the stored label in its title (the search finds it)."""
        from django.utils.html import format_html
        from django.utils.text import capfirst

        return format_html('<span title="{}">{}</span>', obj.subject_type, capfirst(subject_type_name(obj.subject_type)))
    date_hierarchy = "created_at"
    list_select_related = ("actor", "customer")

    @admin.display(description=_("event"), ordering="verb")
    def event(self, obj):
        """In words for staff, the stored code beside it (what the search finds)."""
        from django.utils.html import format_html

        from .event_texts import staff_verb

        return format_html('{} <span class="quiet">({})</span>', staff_verb(obj.verb, obj.data), obj.verb)


def confirmation_page(modeladmin, request, queryset, *, title: str, warning: str, describe=None, form_class=None,
                      refused: str = ""):
    """For an admin action that cannot be undone: the first post shows what it will do to
    which rows (`describe(row)`: a line of details under each) and asks again; the action
    runs only on the post that carries `confirmed`. Returns the page to show, or None when
    confirmed. `form_class`: fields asked on that page too (shown again with its errors
    until valid); the cleaned data is then `request.confirmed_data`. `refused`: the service
    refused what was confirmed: the page again, with why and what was typed."""
    from django.contrib.admin import helpers
    from django.template.response import TemplateResponse

    confirmed = request.POST.get("confirmed") == "yes"
    form = form_class(request.POST if confirmed else None) if form_class else None
    if refused and form is not None:
        form.is_valid()
        form.add_error(None, refused)
    elif confirmed and (form is None or form.is_valid()):
        request.confirmed_data = form.cleaned_data if form is not None else {}
        return None
    return TemplateResponse(request, "admin/soldee_confirm_action.html", {
        "form": form,
        **modeladmin.admin_site.each_context(request),
        "title": title, "warning": warning, "queryset": queryset, "opts": modeladmin.model._meta,
        "rows": [(obj, describe(obj) if describe else "") for obj in queryset],
        "action": request.POST.get("action", ""), "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    })


def _now_to_the_minute():
    from django.utils import timezone

    return timezone.localtime().replace(second=0, microsecond=0)


def statement_time_field(*, label, help_text):
    """A form field for a moment read off a bank statement (Almaty time, to the minute),
    first shown as now (a callable initial: evaluated when the form is shown)."""
    from django import forms

    return forms.DateTimeField(
        label=label, help_text=help_text, initial=_now_to_the_minute,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M"])
