"""The sinusoidal table is built in the default dtype, as PyTorch's modules build theirs
(review E, round 50): under float64 a model's logits were 4e-8 off the exact formula."""

from __future__ import annotations

import math

import pytest
import torch
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.positional import SinusoidalPositionalEncoding


@pytest.fixture
def float64_default():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _exact(length: int, d_model: int) -> torch.Tensor:
    """The formula in Python floats, column by column: (length, d_model) float64."""
    rows = []
    for pos in range(length):
        row = []
        for j in range(d_model):
            angle = pos / 10000.0 ** ((j - j % 2) / d_model)
            row.append(math.sin(angle) if j % 2 == 0 else math.cos(angle))
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float64)


def test_the_table_is_built_in_float64_under_a_float64_default(float64_default):
    pe = SinusoidalPositionalEncoding(6, max_len=40)
    assert pe.pe.dtype == torch.float64
    assert torch.allclose(pe.pe, _exact(40, 6), rtol=0, atol=1e-13)
    x = torch.zeros(1, 40, 6)
    assert torch.allclose(pe(x)[0], _exact(40, 6), rtol=0, atol=1e-13)


def test_a_model_built_under_float64_adds_the_exact_table(float64_default):
    config = TransformerConfig(vocab_size=11, d_model=8, num_heads=2, d_ff=16, dropout=0.0, max_len=30)
    torch.manual_seed(0)
    built = DecoderOnlyTransformer(config)
    tables = [m.pe for m in built.modules() if isinstance(m, SinusoidalPositionalEncoding)]
    assert tables, "the default config adds sinusoidal positions"
    assert all(t.dtype == torch.float64 for t in tables)
    assert all(torch.allclose(t, _exact(30, 8), rtol=0, atol=1e-13) for t in tables)


def test_float32_stays_the_default_tables_dtype():
    pe = SinusoidalPositionalEncoding(6, max_len=10)
    assert pe.pe.dtype == torch.float32


def test_an_unbatched_sequence_is_told_how_to_add_the_batch():
    from transformer_course.attention import MultiHeadAttention

    mha = MultiHeadAttention(8, 2)
    x = torch.randn(5, 8)
    with pytest.raises(
        ValueError, match=r"query must be 3-D \(B, L, d\), got shape \(5, 8\): .*query\[None\]"
    ):
        mha(x, x, x)


def test_a_hand_made_story_with_a_word_the_world_never_writes_is_refused_by_name():
    from transformer_course.stories import Story, StoryGenerator, encode

    good = StoryGenerator().sample(2, seed=0)
    tokens = list(good[1].tokens)
    tokens[2] = "pizzza"  # after <bos> and the first word
    typo = Story(tuple(tokens), 0.0, ())
    with pytest.raises(ValueError, match=r"stories\[1\] holds 'pizzza' \(token 2\), a word the story"):
        encode([good[0], typo])
    assert encode(good).shape[0] == 2  # the generator's own stories pass as before
