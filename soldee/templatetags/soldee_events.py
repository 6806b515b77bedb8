from django import template

from soldee.event_texts import customer_text, staff_verb

register = template.Library()


@register.filter
def event_text(event) -> str:
    return customer_text(event.verb, event.data) or ""


@register.filter
def staff_event_text(event) -> str:
    """The event as staff read it (its code when no wording is written for it)."""
    return str(staff_verb(event.verb, event.data))
