"""The check the bad-input tables share: a call is refused with a ValueError that names the
argument and says what was expected.

A table is a list of rows ``(id, call, argument, expected)``: ``argument`` and ``expected``
are regular expressions searched in the message (``argument`` as a whole name).
"""

import re

import pytest
import torch
from transformer_course.model import TransformerConfig

# The small model and inputs the tables share.
SMALL = TransformerConfig(
    vocab_size=12,
    d_model=8,
    num_heads=2,
    num_encoder_layers=1,
    num_decoder_layers=1,
    d_ff=16,
    dropout=0.0,
    max_len=16,
)
IDS = torch.tensor([[1, 5, 7, 0], [2, 3, 0, 0]])  # (B=2, L=4), pad id 0
X = torch.randn(2, 4, 8)  # (B, L, d_model)


def each_case(cases):
    """Parametrize a test over a table's rows, with each row's id."""
    rows, ids = [c[1:] for c in cases], [c[0] for c in cases]
    return pytest.mark.parametrize(("call", "argument", "expected"), rows, ids=ids)


def assert_refused(call, argument: str, expected: str) -> None:
    with pytest.raises(ValueError, match=rf"(?<![\w.]){argument}(?!\w)") as info:
        call()
    assert re.search(expected, str(info.value)), f"{info.value} does not say {expected!r}"
