

def test_the_date_a_subscription_ended_is_not_labelled_with_its_status_in_russian():
    """Found by the customer explorer: "Статус: Завершена", then "Завершена" again as the
    label of the date."""
    from pathlib import Path

    from django.utils import translation

    template = (Path(__file__).resolve().parents[2] / "templates/subscriptions/account.html").read_text()
    assert '{% translate "Ended" context "when the subscription ended" %}' in template
    with translation.override("ru"):
        assert translation.pgettext("when the subscription ended", "Ended") == "Дата завершения"
        assert translation.gettext("Ended") == "Завершена"
