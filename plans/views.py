from django.shortcuts import render

from .models import Plan


def pricing(request):
    return render(request, "plans/pricing.html", {"plans": Plan.objects.for_sale()})
