"""Django's own password-validation messages, marked here so that `makemessages` puts
them into our catalogs: Django ships no Kazakh translation. Never imported; the exact
strings must match django/contrib/auth/password_validation.py."""

from django.utils.translation import gettext_noop, ngettext_lazy

ngettext_lazy("This password is too short. It must contain at least %d character.",
              "This password is too short. It must contain at least %d characters.", 8)
ngettext_lazy("Your password must contain at least %(min_length)d character.",
              "Your password must contain at least %(min_length)d characters.", 8)
gettext_noop("Your password can’t be too similar to your other personal information.")
gettext_noop("The password is too similar to the %(verbose_name)s.")
gettext_noop("This password is too common.")
gettext_noop("Your password can’t be a commonly used password.")
gettext_noop("This password is entirely numeric.")
gettext_noop("Your password can’t be entirely numeric.")
