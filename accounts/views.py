from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from . import services
from .forms import CustomerProfileForm
from .models import CustomerProfile


@login_required
def profile(request):
    instance = CustomerProfile.objects.filter(user=request.user).first()
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    form = CustomerProfileForm(request.POST or None, instance=instance)
    if request.method == "POST":
        if form.is_valid():
            services.profile_save(form=form, user=request.user)
            messages.success(request, _("Your details are saved."))
            return redirect(next_url or "subscriptions:account")
        messages.error(request, _("Please correct the errors below."))
    return render(request, "accounts/profile.html", {"form": form, "next": next_url,
                                                     "is_new": instance is None})
