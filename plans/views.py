from django.shortcuts import render

from soldee import pagecache

from .models import Plan

PRICING_PAGE_TTL = 3600  # seconds; changes of plans and documents bump the version at once


def pricing(request):
    def render_page():
        return render(request, "plans/pricing.html", {"plans": Plan.objects.for_sale()})

    if request.user.is_authenticated:  # the header and converted prices are the customer's own
        return render_page()
    # A visitor's page is the same for every visitor speaking the same language.
    return pagecache.page(request, name="pricing", versions_of=("plans", "documents"), render=render_page,
                          timeout=PRICING_PAGE_TTL)
