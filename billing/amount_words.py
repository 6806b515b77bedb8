"""Amounts in words, as an invoice (счёт на оплату) prints them, in the invoice's language:

    >>> kzt_in_words(2_990_000, "ru")
    'Двадцать девять тысяч девятьсот тенге 00 тиын'
    >>> kzt_in_words(2_990_000, "kk")
    'Жиырма тоғыз мың тоғыз жүз теңге 00 тиын'
    >>> kzt_in_words(2_990_000, "en")
    'Twenty-nine thousand, nine hundred tenge 00 tiyn'

Tenge in words, tiyn in figures, in every language. Russian is written here: «тенге» and
«тиын» do not decline, thousands are feminine (одна тысяча, две тысячи). Kazakh and English
numbers come from num2words ("kz", "en"); a Kazakh noun after a numeral and the English
"tenge"/"tiyn" do not change in the plural, so the currency words are fixed too. num2words'
own Russian is not used: its numbers are the same as ours, but its currency mode declines
«тиын» (тиынов), which the invoice convention does not.
"""

from __future__ import annotations

from num2words import num2words

_UNITS_M = ["", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"]
_UNITS_F = ["", "одна", "две", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"]
_TEENS = ["десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
          "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать"]
_TENS = ["", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят",
         "восемьдесят", "девяносто"]
_HUNDREDS = ["", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот",
             "восемьсот", "девятьсот"]

# (forms for 1, 2-4, 5+; feminine?) for each power of a thousand.
_SCALES = [
    (("", "", ""), False),
    (("тысяча", "тысячи", "тысяч"), True),
    (("миллион", "миллиона", "миллионов"), False),
    (("миллиард", "миллиарда", "миллиардов"), False),
    (("триллион", "триллиона", "триллионов"), False),
]


def plural_form(n: int, forms: tuple[str, str, str]) -> str:
    n = abs(n) % 100
    if 11 <= n <= 19:
        return forms[2]
    n %= 10
    if n == 1:
        return forms[0]
    if 2 <= n <= 4:
        return forms[1]
    return forms[2]


def _triple(n: int, feminine: bool) -> list[str]:
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(_HUNDREDS[hundreds])
    if 10 <= rest <= 19:
        words.append(_TEENS[rest - 10])
    else:
        tens, units = divmod(rest, 10)
        if tens:
            words.append(_TENS[tens])
        if units:
            words.append((_UNITS_F if feminine else _UNITS_M)[units])
    return words


def int_in_words_ru(n: int) -> str:
    """A whole number in Russian words (masculine), lower case: 21 → «двадцать один»."""
    if n < 0:
        raise ValueError("negative amounts have no words on an invoice")
    if n == 0:
        return "ноль"
    if n >= 1000 ** len(_SCALES):
        raise ValueError(f"{n} is too large")
    words: list[str] = []
    for power in range(len(_SCALES) - 1, -1, -1):
        chunk = (n // 1000 ** power) % 1000
        if not chunk:
            continue
        forms, feminine = _SCALES[power]
        words.extend(_triple(chunk, feminine))
        if power:
            words.append(plural_form(chunk, forms))
    return " ".join(words)


def kzt_in_words_ru(amount_minor: int) -> str:
    """Tenge and tiyn (minor units, 1 ₸ = 100 тиын) in words, capitalised, tiyn in figures."""
    tenge, tiyn = divmod(amount_minor, 100)
    text = int_in_words_ru(tenge)
    return f"{text[0].upper()}{text[1:]} тенге {tiyn:02d} тиын"


def _capitalised(text: str) -> str:
    return f"{text[0].upper()}{text[1:]}"


# language → (num2words' code, tenge, tiyn)
_NUM2WORDS = {"kk": ("kz", "теңге", "тиын"), "en": ("en", "tenge", "tiyn")}


def kzt_in_words(amount_minor: int, language: str) -> str:
    """Tenge and tiyn (minor units) in words in `language` (ru, kk, en; others get Russian),
    capitalised, tiyn in figures."""
    language = (language or "ru").split("-")[0]
    if language not in _NUM2WORDS:
        return kzt_in_words_ru(amount_minor)
    if amount_minor < 0:
        raise ValueError("negative amounts have no words on an invoice")
    code, tenge_word, tiyn_word = _NUM2WORDS[language]
    tenge, tiyn = divmod(amount_minor, 100)
    return f"{_capitalised(num2words(tenge, lang=code))} {tenge_word} {tiyn:02d} {tiyn_word}"
