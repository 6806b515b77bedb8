from django.apps import AppConfig


class SoldeeConfig(AppConfig):
    name = "soldee"
    verbose_name = "Soldee"
