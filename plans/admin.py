import json

from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder

from soldee import events
from soldee.models import Event

from .models import Plan


def _plain(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "price_display", "is_active", "display_order")
    list_editable = ("is_active", "display_order")
    list_filter = ("is_active",)
    search_fields = ("name", "code")

    def has_delete_permission(self, request, obj=None):
        return False  # archive instead: plans stay on existing subscriptions

    def save_model(self, request, obj, form, change):
        """Every change of the price list is on record (what the website offered when,
        clause 6.1): an event with each changed field's old and new value. The admin saves
        in a transaction, so the plan and its event are written together."""
        super().save_model(request, obj, form, change)
        changes = {}
        for name in form.changed_data:  # a JSON field may report a change of text only
            before = _plain(form.initial.get(name)) if change else None
            after = _plain(form.cleaned_data.get(name))
            if before != after:
                changes[name] = {"from": before, "to": after}
        if change and not changes:
            return
        events.record(verb="plan.changed" if change else "plan.created", subject=obj, actor=request.user,
                      actor_kind=Event.ActorKind.STAFF, data={"code": obj.code, "changes": changes})
