from django.db import models
from django.utils.translation import gettext_lazy as _

from soldee.money import format_money


def translations_problem(value) -> str:
    """Why `value` is not {"<language>": {"description": "text", "features": ["line", ...]}}, or ""."""
    if not isinstance(value, dict):
        return _('Use an object by language code, e.g. {"ru": {"description": "…", "features": ["…"]}}.')
    for language, entry in value.items():
        if not isinstance(entry, dict) or set(entry) - {"description", "features"}:
            return _('"%(lang)s": use an object with "description" and/or "features".') % {"lang": language}
        if not isinstance(entry.get("description", ""), str):
            return _('"%(lang)s": "description" must be text.') % {"lang": language}
        features = entry.get("features", [])
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            return _('"%(lang)s": "features" must be a list of lines of text.') % {"lang": language}
    return ""


class PlanQuerySet(models.QuerySet):
    def for_sale(self):
        return self.filter(is_active=True).order_by("display_order", "price_minor")


class Plan(models.Model):
    """A plan on the pricing page (clause 6.1). Prices are data; a change never touches
    anything already paid (payments and acceptances copy the amount)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    features = models.JSONField(
        _("features and limits"), default=list, blank=True,
        help_text=_('A list of short lines, e.g. ["1 AI agent", "1 000 dialogues a month"].'),
    )
    translations = models.JSONField(
        _("translations"), default=dict, blank=True,
        help_text=_('The description and features in other languages, e.g. {"ru": {"description": "…", '
                    '"features": ["…"]}, "kk": {…}}. What is missing is shown as above.'),
    )
    price_minor = models.BigIntegerField(
        _("price, tiyn"), help_text=_("Price for 30 days in KZT minor units (1 ₸ = 100).")
    )
    currency = models.CharField(max_length=3, default="KZT", editable=False)
    is_active = models.BooleanField(
        _("on sale"), default=True,
        help_text=_("Archived plans stay on existing subscriptions but leave the pricing page."),
    )
    display_order = models.PositiveIntegerField(_("display order"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ["display_order", "price_minor"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price_minor__gt=0), name="plan_price_positive"),
            models.CheckConstraint(condition=models.Q(currency="KZT"), name="plan_price_in_kzt"),
        ]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        problem = translations_problem(self.translations)
        if problem:
            raise ValidationError({"translations": problem})

    def _in_language(self, field: str):
        from django.utils import translation

        language = (translation.get_language() or "").split("-")[0]
        entry = self.translations.get(language) if isinstance(self.translations, dict) else None
        value = entry.get(field) if isinstance(entry, dict) else None
        own = getattr(self, field)
        # Only a value of the field's own shape (text; a list of lines): bad data shows the original.
        return value if value and isinstance(value, type(own) if own is not None else str) else own

    @property
    def shown_description(self) -> str:
        """The description in the reader's language (the plan's own when not translated)."""
        return self._in_language("description")

    @property
    def shown_features(self) -> list:
        return self._in_language("features")

    @property
    def price_display(self) -> str:
        return format_money(self.price_minor, self.currency)
