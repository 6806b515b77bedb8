import pytest
from django.core.exceptions import ValidationError

from accounts.validators import is_legal_entity_bin, is_valid_iin_bin, validate_iin_bin

# Real, published BINs: STG LLP (from the offer), Kaspi Bank JSC, Halyk Bank JSC.
KNOWN_VALID = ["250640004728", "971240001315", "940140000385", "900101300017"]


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_known_numbers_pass_the_check_digit(number):
    assert is_valid_iin_bin(number)
    validate_iin_bin(number)


@pytest.mark.parametrize("number", ["250640004727", "971240001316", "880314300860", "123456789012"])
def test_a_wrong_check_digit_is_refused(number):
    assert not is_valid_iin_bin(number)
    with pytest.raises(ValidationError) as exc:
        validate_iin_bin(number)
    assert exc.value.code == "checksum"


@pytest.mark.parametrize("number", ["", "25064000472", "2506400047281", "25064000472a", "２５０６４０００４７２８"])
def test_anything_but_twelve_ascii_digits_is_refused(number):
    assert not is_valid_iin_bin(number)
    with pytest.raises(ValidationError):
        validate_iin_bin(number)


def test_second_weight_sequence_is_used_when_the_first_gives_ten():
    # 11 digits whose first weighted sum is 10 (mod 11): the control digit comes from
    # the second weights 3..11,1,2. "00000000010" * (1..11) -> 10*1 = 10.
    from accounts.validators import iin_bin_control_digit

    assert iin_bin_control_digit("00000000010") == (1 * 1) % 11  # second weights: position 10 has weight 1
    assert is_valid_iin_bin("000000000101")
    assert not is_valid_iin_bin("000000000100")


def test_legal_entity_bins_are_told_from_iins():
    assert is_legal_entity_bin("250640004728")
    assert not is_legal_entity_bin("900101300017")
