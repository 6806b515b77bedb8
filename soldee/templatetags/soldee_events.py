from django import template

from soldee.event_texts import customer_text

register = template.Library()


@register.filter
def event_text(event) -> str:
    return customer_text(event.verb, event.data) or ""
