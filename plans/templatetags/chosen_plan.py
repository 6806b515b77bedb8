"""The plan a visitor chose on the pricing page, for the sign-up page.

    {% load chosen_plan %}
    {% chosen_plan redirect_field_value as plan %}   the Plan on sale whose checkout `next` is, or None
"""

from urllib.parse import urlsplit

from django import template
from django.urls import Resolver404, resolve

from ..models import Plan

register = template.Library()


@register.simple_tag
def chosen_plan(next_url):
    if not next_url or not isinstance(next_url, str):
        return None
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc:  # "Choose <plan>" links to our own path only
        return None
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    if match.view_name != "subscriptions:checkout":
        return None
    return Plan.objects.for_sale().filter(code=match.kwargs.get("plan_code")).first()
