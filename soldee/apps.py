from django.apps import AppConfig


class SoldeeConfig(AppConfig):
    name = "soldee"
    verbose_name = "Soldee"

    def ready(self):
        from . import checks, lookups, page_versions  # noqa: F401  (checks registers itself)

        lookups.register()  # long `__in` lists as one array parameter on PostgreSQL
        page_versions.connect()  # cached pages go stale when their data changes
