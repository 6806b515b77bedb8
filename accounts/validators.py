"""Kazakhstan IIN / BIN: 12 digits with the official control digit.

The 12th digit is the control digit: the first 11 digits are weighted 1..11 and the sum
is taken modulo 11; if that gives 10, weights 3..11,1,2 are used instead; if it is 10
again the number is invalid (such numbers are never issued).
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def iin_bin_control_digit(first_eleven: str) -> int | None:
    digits = [int(c) for c in first_eleven]
    check = sum(d * w for d, w in zip(digits, _WEIGHTS_1, strict=True)) % 11
    if check == 10:
        check = sum(d * w for d, w in zip(digits, _WEIGHTS_2, strict=True)) % 11
        if check == 10:
            return None
    return check


def is_valid_iin_bin(value: str) -> bool:
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return False
    return iin_bin_control_digit(value[:11]) == int(value[11])


def validate_iin_bin(value: str) -> None:
    if len(value) != 12 or not value.isdigit():
        raise ValidationError(_("Enter exactly 12 digits."), code="format")
    if not is_valid_iin_bin(value):
        raise ValidationError(
            _("This number fails the IIN/BIN check digit; please check it for typos."),
            code="checksum",
        )


def is_legal_entity_bin(value: str) -> bool:
    """A BIN's 5th digit is 4, 5 or 6 (legal entity / branch / IP joint); IIN's is 0-3."""
    return value[4] in "456"
