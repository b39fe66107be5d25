import math

import pytest
import torch
from transformer_course.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_encoding,
)


@pytest.mark.parametrize("length,d_model", [(1, 2), (10, 16), (50, 64), (7, 5)])
def test_sinusoidal_matches_the_formula(length, d_model):
    pe = sinusoidal_encoding(length, d_model)
    assert pe.shape == (length, d_model)
    for pos in range(length):
        for j in range(d_model):
            i2 = j - j % 2
            angle = pos / 10000 ** (i2 / d_model)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(pe[pos, j].item() - expected) < 1e-6


def test_first_position_is_zeros_and_ones():
    pe = sinusoidal_encoding(3, 8)
    assert pe[0, 0::2].abs().max() == 0 and torch.all(pe[0, 1::2] == 1)


def test_similarity_decays_with_distance():
    pe = sinusoidal_encoding(64, 128)
    sims = pe[32] @ pe.T
    # neighbours are more alike than far-away positions, on both sides
    assert sims[31] > sims[24] > sims[0] and sims[33] > sims[40] > sims[63]


def test_modules_add_to_their_input():
    x = torch.randn(2, 5, 8)
    sin = SinusoidalPositionalEncoding(8, max_len=10)
    torch.testing.assert_close(sin(x), x + sinusoidal_encoding(5, 8))
    learned = LearnedPositionalEmbedding(8, max_len=10)
    torch.testing.assert_close(learned(x), x + learned.pe[:5])
    assert sum(p.numel() for p in sin.parameters()) == 0
    assert sum(p.numel() for p in learned.parameters()) == 80


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: sinusoidal_encoding(0, 4), "length"),
        (lambda: sinusoidal_encoding(4, -2), "d_model"),
        (lambda: sinusoidal_encoding(4, 4, base=1), "base"),
        (lambda: SinusoidalPositionalEncoding(8, max_len=4)(torch.randn(1, 5, 8)), "max_len"),
        (lambda: SinusoidalPositionalEncoding(8)(torch.randn(1, 5, 6)), "x"),
        (lambda: LearnedPositionalEmbedding(8)(torch.randn(5, 8)), "x"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call()
