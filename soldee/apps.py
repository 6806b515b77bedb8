from django.apps import AppConfig


class SoldeeConfig(AppConfig):
    name = "soldee"
    verbose_name = "Soldee"

    def ready(self):
        from . import page_versions

        page_versions.connect()  # cached pages go stale when their data changes
