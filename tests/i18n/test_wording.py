

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


def _catalogue(language):
    from pathlib import Path

    from babel.messages.pofile import read_po

    path = Path(__file__).resolve().parents[2] / f"locale/{language}/LC_MESSAGES/django.po"
    with path.open("rb") as f:
        catalogue = read_po(f, locale=language)
    for message in catalogue:
        if message.id:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            yield message.id, " ".join(strings)


def test_russian_and_kazakh_say_one_word_for_each_key_term_as_the_glossary_does():
    """docs/glossary.md: a paid term is «срок» / «мерзім» (the offer's "plan term"), never
    «период» / «кезең» as well — the account page read "Оплаченный период" next to "Следующий
    срок, оплачен"; automatic renewal is «автопродление» / «автоматты ұзарту», not also
    «автоматическое продление» / «автоұзарту»; a refund request is «заявка», not «запрос»;
    the receipt is «квитанция», not «чек»; a plan's name after «тариф» is in quotes; a
    refund's money is «деньги возвращены» / «ақша қайтарылды», not also «средства» / «қаражат». In
    Kazakh the login record is «тіркелгі», not also «есептік жазба»; a numbered refund request
    is «№ 2 қайтару өтінімі», not «Қайтаруға № 2 өтінім»; consent is withdrawn «кері қайтарып
    алу», not «кері қайтару» or «қайтарып алу» as well; a legal document is «заңдық құжат» (the
    admin section «Заңдық құжаттар»), not also «заңды құжат» («заңды» is a legal entity's)."""
    import re

    banned = {
        "ru": [r"\b[Пп]ериод", r"\b[Аа]втоматическ\w+ продлени", r"\b[Зз]апрос\w* на возврат",
               r"\bчек(и|а|ом)?\b", r"[Оо]плаченн\w+ врем", r"тариф\w* %\(plan\)s", r"[Сс]редства возвращены"],
        "kk": [r"[Кк]езең", r"[Аа]втоұзарт", r"[Аа]қылы мерзім", r"[Тт]өленген уақыт\b",
               r"%\(plan\)s тариф", r"[Ее]септік жазба", r"[Ққ]айтаруға №",
               r"[Кк]елісім\w* (?!кері )қайтарып ал", r"[Кк]елісім\w* кері қайтар(?!ып)",
               r"[Ққ]аражат қайтарылды", r"[Зз]аңды құжат"],
    }
    for language, patterns in banned.items():
        found = [(pattern, msgid) for msgid, text in _catalogue(language)
                 for pattern in patterns if re.search(pattern, text)]
        assert not found, (language, found)


def test_the_customer_is_one_word_except_in_the_agreement_s_legal_sentences():
    """docs/glossary.md: the customer is «клиент» in Russian and Kazakh. Staff texts said
    «заказчик» / «тапсырыс беруші» in the subscription actions, the bank-transfer form, the
    print queue and the dashboard, and «клиент» elsewhere, both in one sentence. Only the
    agreement's legal sentences, where the English says "the Customer" (the offer's defined
    term), keep «Заказчик» / «Тапсырыс беруші»."""
    import re

    other_word = {"ru": r"[Зз]аказчик", "kk": r"[Тт]апсырыс беруш"}
    for language, pattern in other_word.items():
        found = [msgid for msgid, text in _catalogue(language) if re.search(pattern, text)
                 and not re.search(r"\bthe Customer\b|^Customer \(as at acceptance\)$", msgid if isinstance(msgid, str)
                                   else msgid[0])]
        assert not found, (language, found)
        legal = [msgid for msgid, text in _catalogue(language) if re.search(pattern, text)]
        assert len(legal) == 3, (language, legal)  # the agreement PDF: concluded, amended, the party


def test_no_kazakh_date_is_followed_by_a_bare_postposition():
    """«30.12.2026 19:29 дейін сақталады»: «дейін» and «бастап» need a case ending on the word
    before them (-ға/-ге, -дан/-ден …), which depends on how the date is read out; the texts
    put the postposition after a noun that takes it («соңына (…) дейін», «мына сәтке дейін:
    …») or give the date as a label's value (docs/glossary.md)."""
    import re

    found = [msgid for msgid, text in _catalogue("kk")
             if re.search(r"(%\(\w+\)[sd]|\{\w+\})»? (дейін|бастап|шейін)\b", text)]
    assert not found


# Placeholders that are always a date or a date and time in the catalogue ("on %(date)s",
# "at %(at)s", "its deadline %(due)s", "starts %(start)s", …). Not %(paid)s: an amount in
# "%(paid)s paid on %(date)s", a date in "paid %(paid)s Almaty".
KAZAKH_DATE_PLACEHOLDERS = ("date", "at", "due", "start", "end", "time", "charge", "res", "until", "since",
                            "deadline", "issued")
# A Kazakh finite verb, participle or converb: the past (-ды/-ді/-ты/-ті, "түзетілді",
# "сұрадыңыз", "өшірдім"), the present-future ("аяқталады", "тоқтайды"), the participle
# -ған/-ген/-қан/-кен ("жасалған") and the converb -ып/-іп/-п ("қайталап көреміз").
KAZAKH_VERB = r"\w+(?:[дт][ыі]|ған|ген|қан|кен|[ыі]п|[ае]п)(?:м|ң|ңыз|ңіз|қ|к|мыз|міз)?"


def test_no_kazakh_date_stands_bare_before_a_verb():
    """«Сіз хабарлаған қате %(date)s түзетілді»: a date or time put bare before the verb it
    dates reads wrong in Kazakh; it takes «күні» («%(date)s күні түзетілді», «%(date)s күні
    жасалған шарт»), as «%(date)s дейін» needs a case ending (docs/glossary.md). Also with
    «(Алматы уақыты)» between them."""
    import re

    names = "|".join(KAZAKH_DATE_PLACEHOLDERS)
    bare = re.compile(rf"%\((?:{names})\)s»?(?: \((?:Алматы|Asia)[^)]*\))? {KAZAKH_VERB}\b")
    found = [(msgid, text) for msgid, text in _catalogue("kk") if bare.search(text)]
    assert not found
    # The check catches what it is for, and leaves a dated noun and a label's value alone.
    assert bare.search("қате %(date)s түзетілді") and bare.search("Мен %(date)s өшірдім")
    assert bare.search("%(charge)s (Алматы уақыты) сақталған картаңыздан")
    assert bare.search("Біз %(date)s қайталап көреміз") and bare.search("ол %(start)s басталады")
    for correct in ("%(date)s күні түзетілді", "%(date)s күнгі бағам", "%(date)s жылғы № 5 шот",
                    "%(date)s бағамынан", "Төленген мерзімнің соңы: %(date)s", "%(old)s тұрды"):
        assert not bare.search(correct), correct


def test_the_account_page_names_the_paid_term_and_the_next_term_with_the_same_word():
    from django.utils import translation

    for language, word in (("ru", "срок"), ("kk", "мерзім")):
        with translation.override(language):
            for text in ("Paid term", "Next term, paid", "Closed: the paid term is over"):
                assert word in translation.gettext(text).lower(), (language, text)


def test_the_refund_approved_e_mail_says_which_term_is_cancelled_without_a_dangling_pronoun():
    """«Это полный возврат. Оплаченный им срок…»: «им» read as the refund, not the payment."""
    from django.utils import translation

    text = ("The term it paid has not started: when the money is paid back, that term is cancelled. The term in "
            "use keeps its access until %(date)s (Almaty time), then the subscription ends (automatic renewal off).")
    with translation.override("ru"):
        assert translation.gettext(text).startswith("срок, оплаченный этим платежом, ещё не начался")
    with translation.override("kk"):
        assert translation.gettext(text).startswith("осы төлеммен төленген мерзім әлі басталған жоқ")


def test_the_privacy_page_s_intro_links_the_policy_within_its_sentence_in_russian_and_kazakh():
    """The link is part of the sentence (it followed it, repeating its last words)."""
    from django.utils import translation

    text = ("Under the Law of the Republic of Kazakhstan on Personal Data and Their Protection you may get a copy "
            "of your data, withdraw your consent to its processing and ask us to delete your account. Records "
            "that the law obliges us to keep (payments, agreements) are kept, as the "
            '<a href="%(privacy_url)s">Privacy Policy</a> explains.')
    for language in ("ru", "kk"):
        with translation.override(language):
            translated = translation.gettext(text)
        assert translated != text and translated.count('<a href="%(privacy_url)s">') == 1, language
        assert translated.count("</a>") == 1, language


CONSENT_AGAIN_TEXTS = (
    "You withdrew your consent to the processing of your personal data. Give it again on the “Your personal "
    "data” page to make a purchase.",
    "You withdrew your consent to the processing of your personal data. Give it again on the “Your personal "
    "data” page to turn renewal back on.",
    "You have withdrawn your consent to the processing of your personal data: to buy a plan again, first give "
    "your consent again on the “Your personal data” page:",
    "Automatic renewal of %(plan)s is off. Your access continues until %(date)s (Almaty time), then the "
    "subscription ends. You have withdrawn your consent to the processing of your personal data: to turn "
    "renewal back on before then, first give your consent again on the “Your personal data” page:",
    "The customer withdrew consent to the processing of personal data, which turned renewal off. It can go "
    "back on once they give consent again on the “Your personal data” page.",
    "Not charged: the customer has withdrawn consent to the processing of personal data, and a renewal is a "
    "purchase that needs it. The renewal sweep does not charge it either and turns its renewal off; it can be "
    "charged once the customer gives consent again on the “Your personal data” page.",
)


def test_texts_that_send_the_customer_to_the_personal_data_page_name_it_as_its_heading_does():
    """Found by the customer explorer: the page is headed «Ваши персональные данные» /
    «Дербес деректеріңіз», the e-mails and the account sent customers to «Персональные
    данные» / «Дербес деректер». And the account's line said «снова» twice."""
    import re

    from django.utils import translation

    for language in ("ru", "kk"):
        with translation.override(language):
            heading = translation.gettext("Your personal data")
            assert heading != "Your personal data"
            for text in CONSENT_AGAIN_TEXTS:
                assert f"«{heading}»" in translation.gettext(text), (language, text)
    with translation.override("ru"):
        for text in CONSENT_AGAIN_TEXTS:
            assert len(re.findall(r"\bснова\b", translation.gettext(text))) <= 1, text


def test_a_refund_s_status_and_its_history_line_say_the_money_was_returned_in_the_same_words():
    """Found by the customer explorer: «Средства возвращены» (the refund's status) next to
    «Деньги возвращены» (the line in its history). docs/glossary.md: «деньги» / «ақша»."""
    from django.utils import translation

    for language, words in (("ru", "Деньги возвращены"), ("kk", "Ақша қайтарылды")):
        with translation.override(language):
            assert translation.gettext("Refunded") == words
            assert translation.gettext("The money was returned") == words
            assert translation.gettext("Payment date") not in ("Payment date", translation.gettext("Paid"))


def test_a_number_sign_is_followed_by_one_space_in_russian_and_kazakh():
    """«№%(id)s» and «№ %(id)s» were mixed (17 texts against some 55): Russian and Kazakh
    typography writes «№ 5», as the documents' headings do («Квитанция № 12»)."""
    import re

    found = [(language, msgid) for language in ("ru", "kk") for msgid, text in _catalogue(language)
             if re.search(r"№(?! \S)", text)]
    assert not found
