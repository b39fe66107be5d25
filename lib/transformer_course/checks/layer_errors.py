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


# The round-41 battery: three more errors every layer exercise meets.
INT_MASK = r"mask must be a bool tensor \(True = may attend\), got torch\.(u?int\d*|long|short)"
PYTORCH_KEYWORDS = (
    r"unexpected keyword argument '(attn_mask|key_padding_mask|is_causal|average_attn_weights)'"
)


def int_mask(example: Callable, *, right: str) -> Mistake:
    """A mask of 0s and 1s as integers ((src != pad).int(), torch.ones(L, L, dtype=torch.long))."""
    return Mistake(
        name="an integer mask",
        hint="Your mask holds integers (0 and 1): the course's attention takes a bool mask, "
        f"True = may attend. Pass {right} (or .bool() on yours).",
        compute=None,
        error=INT_MASK,
        example=example,
    )


def pytorch_keywords(example: Callable, *, right: str) -> Mistake:
    """nn.MultiheadAttention's keywords given to the course's attention."""
    return Mistake(
        name="PyTorch's attention keywords",
        hint="The course's attention is not nn.MultiheadAttention: it has no attn_mask, "
        "key_padding_mask or is_causal. It takes one bool mask, True = may attend, as "
        f"mask=…: {right}.",
        compute=None,
        error=PYTORCH_KEYWORDS,
        example=example,
    )


def no_self(example: Callable, *, owner: str, parts: str) -> Mistake:
    """``self.…`` in a function that is no method: ``owner`` is the argument that holds the
    parts, ``parts`` a few of them, e.g. "block.norm, block.dropout"."""
    return Mistake(
        name="self used",
        hint=f"There is no `self` in your function: it is not a method of a class. The module it "
        f"works with is the argument {owner}: {parts}.",
        compute=None,
        error=r"name 'self' is not defined",
        example=example,
    )
