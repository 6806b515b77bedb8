"""Amounts in words for invoices, in the invoice's language: tenge in words, tiyn in figures."""

import pytest

from billing.amount_words import int_in_words_ru, kzt_in_words, kzt_in_words_ru, plural_form


@pytest.mark.parametrize("minor,words", [
    (2_990_000, "Двадцать девять тысяч девятьсот тенге 00 тиын"),
    (100, "Один тенге 00 тиын"),
    (5, "Ноль тенге 05 тиын"),
    (1_000_00, "Одна тысяча тенге 00 тиын"),
    (2_000_00, "Две тысячи тенге 00 тиын"),
    (5_000_00, "Пять тысяч тенге 00 тиын"),
    (11_000_00, "Одиннадцать тысяч тенге 00 тиын"),
    (21_000_00, "Двадцать одна тысяча тенге 00 тиын"),
    (14_999_50, "Четырнадцать тысяч девятьсот девяносто девять тенге 50 тиын"),
    (1_000_000_00, "Один миллион тенге 00 тиын"),
    (2_002_002_99, "Два миллиона две тысячи два тенге 99 тиын"),
    (112_512_345_67, "Сто двенадцать миллионов пятьсот двенадцать тысяч триста сорок пять тенге 67 тиын"),
    (1_000_000_000_00, "Один миллиард тенге 00 тиын"),
])
def test_kzt_in_words(minor, words):
    assert kzt_in_words_ru(minor) == words


@pytest.mark.parametrize("n,form", [(1, "тысяча"), (2, "тысячи"), (4, "тысячи"), (5, "тысяч"), (11, "тысяч"),
                                    (12, "тысяч"), (21, "тысяча"), (22, "тысячи"), (111, "тысяч"), (101, "тысяча")])
def test_plural_forms(n, form):
    assert plural_form(n, ("тысяча", "тысячи", "тысяч")) == form


def test_teens_tens_and_hundreds():
    assert int_in_words_ru(919) == "девятьсот девятнадцать"
    assert int_in_words_ru(340) == "триста сорок"
    assert int_in_words_ru(10) == "десять"


def test_negative_and_huge_amounts_are_refused():
    with pytest.raises(ValueError):
        kzt_in_words_ru(-1)
    with pytest.raises(ValueError):
        int_in_words_ru(10 ** 15)


@pytest.mark.parametrize("minor,ru,kk,en", [
    (100, "Один тенге 00 тиын", "Бір теңге 00 тиын", "One tenge 00 tiyn"),
    (200, "Два тенге 00 тиын", "Екі теңге 00 тиын", "Two tenge 00 tiyn"),
    (500, "Пять тенге 00 тиын", "Бес теңге 00 тиын", "Five tenge 00 tiyn"),
    (2_100, "Двадцать один тенге 00 тиын", "Жиырма бір теңге 00 тиын", "Twenty-one tenge 00 tiyn"),
    (1, "Ноль тенге 01 тиын", "Нөл теңге 01 тиын", "Zero tenge 01 tiyn"),
    (221, "Два тенге 21 тиын", "Екі теңге 21 тиын", "Two tenge 21 tiyn"),
    (2_000_05, "Две тысячи тенге 05 тиын", "Екі мың теңге 05 тиын", "Two thousand tenge 05 tiyn"),
    (21_000_00, "Двадцать одна тысяча тенге 00 тиын", "Жиырма бір мың теңге 00 тиын",
     "Twenty-one thousand tenge 00 tiyn"),
    (2_990_000, "Двадцать девять тысяч девятьсот тенге 00 тиын", "Жиырма тоғыз мың тоғыз жүз теңге 00 тиын",
     "Twenty-nine thousand, nine hundred tenge 00 tiyn"),
    (1_000_000_00, "Один миллион тенге 00 тиын", "Бір миллион теңге 00 тиын", "One million tenge 00 tiyn"),
])
def test_kzt_in_words_in_each_language(minor, ru, kk, en):
    """The English and Kazakh invoices printed the Russian words."""
    assert kzt_in_words(minor, "ru") == ru == kzt_in_words_ru(minor)
    assert kzt_in_words(minor, "kk") == kk
    assert kzt_in_words(minor, "en") == en


def test_an_unknown_language_gets_russian_and_a_negative_amount_is_refused():
    assert kzt_in_words(100, "de") == "Один тенге 00 тиын"
    for language in ("ru", "kk", "en"):
        with pytest.raises(ValueError):
            kzt_in_words(-100, language)
