"""Amounts in words in Russian, as an invoice (счёт на оплату) prints them:

    >>> kzt_in_words_ru(2_990_000)
    'Двадцать девять тысяч девятьсот тенге 00 тиын'

«Тенге» and «тиын» do not decline; thousands are feminine (одна тысяча, две тысячи).
"""

from __future__ import annotations

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
