"""Amounts in words (Russian) for invoices: tenge in words, tiyn in figures."""

import pytest

from billing.amount_words import int_in_words_ru, kzt_in_words_ru, plural_form


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
