"""The errors the lib's layers raise that name a learner's mistake, for the encoder layer, the
decoder layer and the encoder-decoder forward: the attention's weights taken for its output
(adding a (B, h, Lq, Lk) tensor to x (B, L, d_model) fails at dimension 3), and a float mask
(torch.ones(L, L).tril(), or PyTorch's generate_square_subsequent_mask) where the course's
attention takes a bool one, True = may attend.
"""

from __future__ import annotations

from collections.abc import Callable

from .harness import Mistake

# lib's refusal of a float mask (an int one, say (src != pad).int(), is another mistake: not named)
FLOAT_MASK = r"mask must be a bool tensor \(True = may attend\), got torch\.(float|double|half|bfloat)"


def weights_taken(attention: str, example: Callable) -> Mistake:
    """``attention``: the exercise's attention modules, e.g. "layer.self_attn returns"."""
    return Mistake(
        name="weights taken for the output",
        hint=f"You added the attention WEIGHTS to x: {attention} the pair (output, weights), in "
        "that order, and the weights are (B, h, Lq, Lk), one per head and pair of tokens. Take "
        "the first item: attended, _ = layer.self_attn(…).",
        compute=None,
        error=r"must match the size of tensor b \(\d+\) at non-singleton dimension 3",
        example=example,
    )


def float_mask(example: Callable, *, right: str) -> Mistake:
    """``right``: the mask the exercise wants, in words (what the hint tells the learner to pass)."""
    return Mistake(
        name="a float mask",
        hint="Your mask is a tensor of floats (0/1, or PyTorch's 0/-inf from "
        "nn.Transformer.generate_square_subsequent_mask): the course's attention takes a bool mask, "
        f"True = may attend, and fills the -inf itself. Pass {right}.",
        compute=None,
        error=FLOAT_MASK,
        example=example,
    )
