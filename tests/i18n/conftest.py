import pytest
from django.utils.translation import trans_real


@pytest.fixture
def staff_in(staff_admin, settings, monkeypatch):
    """The staff client reading the admin in a language (production's "ru" fallback):
    `staff_in("kk").get(url)`. test_admin_grammar.py has its own, which also GETs the page."""
    settings.LANGUAGE_CODE = "ru"
    monkeypatch.setattr(trans_real, "_translations", {})

    def use(language):
        staff_admin.cookies["django_language"] = language
        return staff_admin
    return use
