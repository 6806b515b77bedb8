from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SoldeeConfig(AppConfig):
    name = "soldee"
    verbose_name = _("Event log")  # the admin index's section of the portal's event log (soldee.Event)

    def ready(self):
        from . import checks, lookups, page_versions  # noqa: F401  (checks registers itself)

        lookups.register()  # long `__in` lists as one array parameter on PostgreSQL
        _label_fields()  # admin labels in the staff member's language
        page_versions.connect()  # cached pages go stale when their data changes


def _label_fields() -> None:
    """Fields declared without a verbose name get a translated one (soldee.field_labels)."""
    from django.apps import apps

    from .field_labels import (
        FIELD_HELP_TEXTS,
        FIELD_LABELS,
        VENDOR_FIELD_LABELS,
        VENDOR_MODEL_NAMES,
    )

    for model in apps.get_models():
        if model._meta.app_label not in ("accounts", "plans", "offer", "subscriptions", "billing", "refunds", "soldee"):
            continue
        for field in model._meta.concrete_fields:
            if field._verbose_name is None and field.name in FIELD_LABELS:
                field.verbose_name = FIELD_LABELS[field.name]
            if isinstance(field.help_text, str) and field.help_text in FIELD_HELP_TEXTS:
                field.help_text = FIELD_HELP_TEXTS[field.help_text]
    for label, (name, plural) in VENDOR_MODEL_NAMES.items():  # not original_attrs: no migration
        opts = apps.get_model(label)._meta
        opts.verbose_name, opts.verbose_name_plural = name, plural
    for label, labels in VENDOR_FIELD_LABELS.items():
        for field_name, verbose_name in labels.items():
            apps.get_model(label)._meta.get_field(field_name).verbose_name = verbose_name
