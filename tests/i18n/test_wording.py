

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


def test_texts_that_send_the_customer_to_the_refunds_page_name_it_as_its_heading_does():
    """After withdrawing a refund request the customer is sent to "the Refunds page" (the
    message on the request's page and the "request withdrawn" e-mail). The Russian and
    Kazakh texts named it «Возвраты», «Қайтарулар» or «Қаражатты қайтару»: no page is
    called that, the page's heading is "Refunds and error reports"."""
    from django.utils import translation

    texts = ("Your refund request is withdrawn. You can ask again, on the ground that applies, "
             "from the Refunds page.",
             "If you still want that payment back, you can ask again, on the ground of clause 7 of the "
             "offer that applies, from the Refunds page:")
    for language in ("ru", "kk"):
        with translation.override(language):
            heading = translation.gettext("Refunds and error reports")
            assert heading != "Refunds and error reports"
            for text in texts:
                assert f"«{heading}»" in translation.gettext(text), (language, text)
