"""Chapter 02's exercise: the sinusoidal-encoding checker passes the reference, names each mistake."""

import pytest
import torch
from transformer_course.checks import NOT_ATTEMPTED, PASSED, WRONG, check_sinusoidal_encoding
from transformer_course.positional import sinusoidal_encoding


def build(
    length, d_model, *, swap=False, exponent=lambda i, d: 2 * i / d, start=0, halves=False, per_column=False
):
    """A learner-style implementation with one switch per mistake."""
    pos = torch.arange(start, start + length).float()[:, None]
    i = torch.arange(d_model // 2).float()
    angle = pos / 10000 ** exponent(i, d_model)
    even, odd = (torch.cos(angle), torch.sin(angle)) if swap else (torch.sin(angle), torch.cos(angle))
    if per_column:
        odd = torch.cos(pos / 10000 ** ((2 * i + 1) / d_model))
    if halves:
        return torch.cat([even, odd], dim=1)
    return torch.stack([even, odd], dim=-1).reshape(length, d_model)


def test_reference_and_lib_pass():
    assert check_sinusoidal_encoding(build).status == PASSED
    assert check_sinusoidal_encoding(sinusoidal_encoding).passed


def test_unattempted_is_reported_not_raised():
    def learner(length, d_model):
        raise NotImplementedError

    assert check_sinusoidal_encoding(learner).status == NOT_ATTEMPTED


MISTAKES = {
    "swapped": (dict(swap=True), "swapped"),
    "i over d": (dict(exponent=lambda i, d: i / d), "You used i/d_model"),
    "no division": (dict(exponent=lambda i, d: 2 * i), "missing the division by d_model"),
    "per column": (dict(per_column=True), "share one frequency"),
    "from one": (dict(start=1), "Positions start at 0"),
    "halves": (dict(halves=True), "interleaved"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_gets_its_own_hint(name):
    switches, words = MISTAKES[name]
    result = check_sinusoidal_encoding(lambda n, d: build(n, d, **switches))
    assert result.status == WRONG and words in result.message, result.message
    others = [w for n, (_, w) in MISTAKES.items() if n != name]
    assert not any(w in result.message for w in others)


def test_wrong_shape_is_explained():
    result = check_sinusoidal_encoding(lambda n, d: build(n, d).T)
    assert result.status == WRONG and "shape" in result.message
