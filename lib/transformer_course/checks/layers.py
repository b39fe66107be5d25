"""Exercise 07: a post-norm decoder layer's forward, built from the lib's parts.

``fn(layer, x (B, Lt, d), memory (B, Ls, d)) → (B, Lt, d)`` using ``layer.self_attn``,
``layer.cross_attn``, ``layer.feed_forward`` and ``layer.norm1``/``norm2``/``norm3``
(eval mode, no padding): masked self-attention, cross-attention, feed-forward, each
followed by Add & Norm.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DecoderLayer
from ..masks import causal_mask
from . import asked_for
from . import layers_learners as learner
from .add_norm import add_norm_chain, layer_mistakes
from .built_ins import note_built_ins
from .harness import Exercise, Mistake, Result, check_function
from .layer_errors import float_mask, weights_taken
from .layers_more import MORE_MISTAKES
from .layers_round51b import DECODER as ROUND_51B
from .layers_slips import FIRST, MORE, ROUND_43B
from .stale import learner_check

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(layer: DecoderLayer, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """x (B, Lt, d_model), memory (B, Ls, d_model) → (B, Lt, d_model)."""
    raise NotImplementedError


def solution(layer: DecoderLayer, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """x (B, Lt, d_model), memory (B, Ls, d_model) → (B, Lt, d_model)."""
    attended, _ = layer.self_attn(x, mask=causal_mask(x.shape[1]))  # no peeking ahead
    x = layer.norm1(x + attended)
    attended, _ = layer.cross_attn(x, memory, memory)  # queries from x, keys/values from memory
    x = layer.norm2(x + attended)
    return layer.norm3(x + layer.feed_forward(x))


def by_hand(
    layer,
    x,
    memory,
    *,
    skip=(),
    wrap="post",
    causal=True,
    cross="right",
    cross_causal=False,
    order="self first",
    from_input=False,
    norms=(1, 2, 3),
    dropout=False,
    mask_by_position=False,
):
    """A learner's decoder layer with one switch per catalogued mistake (all off: correct)."""
    length = x.shape[1]
    mask = causal_mask(length) if causal else None
    if causal == "upper":
        mask = causal_mask(length).T  # triu: each token sees itself and the FUTURE
    elif causal == "no diagonal":
        mask = torch.ones(length, length, dtype=torch.bool).tril(-1)  # not even itself
    elif causal == "ahead":
        mask = torch.ones(length, length, dtype=torch.bool).tril(1)  # one token of the future too
    elif causal == "inverted":
        mask = ~causal_mask(length)  # PyTorch's convention (True = blocked) read as ours

    def cross_attention(z):
        q, kv = {"swapped": (memory, z), "self": (z, z)}.get(cross, (z, memory))
        module = layer.self_attn if cross == "self module" else layer.cross_attn
        return module(q, kv, kv, causal_mask(x.shape[1]) if cross_causal else None)[0]

    self_block = lambda z: (layer.self_attn(z, mask) if mask_by_position else layer.self_attn(z, mask=mask))[
        0
    ]  # noqa: E731
    ff = (lambda z: F.dropout(layer.feed_forward(z), 0.1)) if dropout else layer.feed_forward
    blocks = (self_block, cross_attention, ff)
    if order == "cross first":
        blocks = (cross_attention, self_block, ff)
    lns = [getattr(layer, f"norm{n}") if n else None for n in norms]
    return add_norm_chain(x, blocks, lns, wrap=wrap, skip=skip, from_input=from_input)


def _fused_and_explicit(layer, x, memory):
    """Every argument spelled out, a hand-made bool mask, and the fused path (no weights)."""
    length = x.shape[1]
    mask = torch.ones(length, length, dtype=torch.bool).tril()
    x = layer.norm1(x + layer.self_attn(x, x, x, mask, need_weights=False)[0])
    x = layer.norm2(x + layer.cross_attn(x, memory, memory, None, need_weights=False)[0])
    return layer.norm3(x + layer.feed_forward(x))


ALTERNATIVES = {
    "lib's DecoderLayer forward": lambda layer, x, m: layer(x, m, causal_mask(x.shape[1])),
    "by hand, every switch off": by_hand,
    "fused attention, explicit arguments": _fused_and_explicit,
    "in float64": lambda layer, x, memory: solution(layer.double(), x.double(), memory.double()),
    "causal=True, the value left to default": learner.causal_keyword,
    "its Add & Norm modules": learner.with_its_add_norms,
    "mask by comparing positions": learner.mask_by_comparison,
    "a loop over the three sublayers": learner.loop_over_the_sublayers,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def reference(layer, x, memory, **mistake):
    """A post-norm decoder layer's forward built from ``layer``'s parts, or one of its usual
    mistakes (the switches of ``by_hand``); with no switch it is the lib's own forward."""
    if not mistake:
        return layer(x, memory, causal_mask(x.shape[1], device=x.device))
    return by_hand(layer, x, memory, **mistake)


def _cases() -> list[tuple]:
    with torch.random.fork_rng(devices=[]), torch.no_grad():  # leaves the caller's seed alone
        torch.default_generator.manual_seed(7)
        layer = DecoderLayer(16, 4, 32, dropout=0.0).eval()
        for ln in (layer.norm1, layer.norm2, layer.norm3):  # so that a misplaced norm shows
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.5, 0.5)
    g = torch.Generator().manual_seed(7)
    # The first case has as many source as target tokens, so swapped queries and keys still run.
    return [
        (layer, torch.randn(2, 5, 16, generator=g), torch.randn(2, 5, 16, generator=g)),
        (layer, torch.randn(1, 4, 16, generator=g), torch.randn(1, 7, 16, generator=g)),
        (layer, torch.randn(3, 6, 16, generator=g), torch.randn(3, 3, 16, generator=g)),
    ]


_SUBLAYERS = {"self": "masked self-attention", "cross": "cross-attention", "ff": "feed-forward network"}

NO_RESIDUAL_AROUND = tuple(
    Mistake(
        name=f"no residual around {key}",
        hint=f"Missing residual connection around the {words}: Add & Norm adds the sublayer's "
        f"input back before normalising, norm(x + sublayer(x)), not norm(sublayer(x)).",
        compute=partial(reference, skip=(i,)),
        example=partial(by_hand, skip=(i,)),
    )
    for i, (key, words) in enumerate(_SUBLAYERS.items())
)


def _learner_takes_the_weights(layer, x, memory):
    _, attended = layer.self_attn(x, mask=causal_mask(x.shape[1]))  # the pair is (output, weights)
    x = layer.norm1(x + attended)
    _, attended = layer.cross_attn(x, memory, memory)
    x = layer.norm2(x + attended)
    return layer.norm3(x + layer.feed_forward(x))


def _learner_uses_pytorchs_mask(layer, x, memory):
    mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])  # 0 and -inf, floats
    x = layer.norm1(x + layer.self_attn(x, mask=mask)[0])
    x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


MISTAKES = (
    weights_taken("layer.self_attn and layer.cross_attn return", _learner_takes_the_weights),
    float_mask(
        _learner_uses_pytorchs_mask, right="causal_mask(L), or torch.ones(L, L, dtype=torch.bool).tril()"
    ),
    *layer_mistakes(
        by_hand,
        "layer.self_attn (and layer.cross_attn)",
        lambda layer, x, memory: layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))),
    ),
    Mistake(
        name="no residuals",
        hint="Missing residual connections: every sublayer's output must be added to its input "
        "before the norm, x = norm(x + sublayer(x)). Without the `x +` nothing of the input "
        "survives the layer unchanged.",
        compute=partial(reference, skip=(0, 1, 2)),
        example=partial(by_hand, skip=(0, 1, 2)),
    ),
    *NO_RESIDUAL_AROUND,
    Mistake(
        name="norm(x) + sublayer(x)",
        hint="You normalised x and then added the sublayer's output, norm(x) + sublayer(x). Add "
        "first, then normalise the sum: x = norm(x + sublayer(x)).",
        compute=partial(reference, wrap="norm x"),
        example=partial(by_hand, wrap="norm x"),
    ),
    Mistake(
        name="pre-norm",
        hint="Wrong norm order: you normalised the input of each sublayer, x + sublayer(norm(x)) "
        "(pre-norm, as in GPT-2). This layer is post-norm, as in the paper: "
        "x = norm(x + sublayer(x)).",
        compute=partial(reference, wrap="pre"),
        example=partial(by_hand, wrap="pre"),
    ),
    Mistake(
        name="norm before the add",
        hint="Wrong norm order: you normalised the sublayer's output and then added the input, "
        "x + norm(sublayer(x)). Add first, then normalise the sum: norm(x + sublayer(x)).",
        compute=partial(reference, wrap="inside"),
        example=partial(by_hand, wrap="inside"),
    ),
    Mistake(
        name="residual from the layer's input",
        hint="Your residuals add the layer's INPUT x to every sublayer, not each sublayer's own "
        "input. Overwrite x after each Add & Norm (x = layer.norm1(x + attended), …) so the "
        "next sublayer and its residual start from there.",
        compute=partial(reference, from_input=True),
        example=partial(by_hand, from_input=True),
    ),
    Mistake(
        name="norm1 used three times",
        hint="You used norm1 after every sublayer: each Add & Norm has its own LayerNorm, with its "
        "own learned scale and shift: norm1, norm2, norm3.",
        compute=partial(reference, norms=(1, 1, 1)),
        example=partial(by_hand, norms=(1, 1, 1)),
    ),
    Mistake(
        name="no norm after the self-attention",
        hint="The first LayerNorm is missing: after the masked self-attention comes "
        "x = layer.norm1(x + attended), before the cross-attention reads x.",
        compute=partial(reference, norms=(None, 2, 3)),
        example=partial(by_hand, norms=(None, 2, 3)),
    ),
    Mistake(
        name="no norm after the cross-attention",
        hint="The second LayerNorm is missing: after the cross-attention comes "
        "x = layer.norm2(x + attended), before the feed-forward reads x.",
        compute=partial(reference, norms=(1, None, 3)),
        example=partial(by_hand, norms=(1, None, 3)),
    ),
    Mistake(
        name="norm2 and norm3 swapped",
        hint="Your norms are out of order: each Add & Norm has its own, norm1 after the "
        "self-attention, norm2 after the cross-attention, norm3 after the feed-forward.",
        compute=partial(reference, norms=(1, 3, 2)),
        example=partial(by_hand, norms=(1, 3, 2)),
    ),
    Mistake(
        name="no norm after the feed-forward",
        hint="The last LayerNorm is missing: the layer ends with layer.norm3(x + layer.feed_forward(x)).",
        compute=partial(reference, norms=(1, 2, None)),
        example=partial(by_hand, norms=(1, 2, None)),
    ),
    Mistake(
        name="no causal mask",
        hint="No causal mask in the self-attention: each target token can see the tokens after "
        "it, the very words it must learn to predict. Pass mask=causal_mask(x.shape[1]) "
        "to layer.self_attn.",
        compute=partial(reference, causal=False),
        example=partial(by_hand, causal=False),
    ),
    Mistake(
        name="causal mask upside down",
        hint="Your causal mask is upper-triangular (triu): each target token sees itself and the "
        "tokens AFTER it. Position i may see positions 0 … i: the lower triangle, "
        "causal_mask(L) or torch.ones(L, L, dtype=torch.bool).tril().",
        compute=partial(reference, causal="upper"),
        example=partial(by_hand, causal="upper"),
    ),
    Mistake(
        name="causal mask without the diagonal",
        hint="Your causal mask hides the diagonal too (tril(diagonal=-1)): each token must see "
        "itself, and the first one then sees nothing at all. Position i may see positions "
        "0 … i: causal_mask(L), or torch.ones(L, L, dtype=torch.bool).tril().",
        compute=partial(reference, causal="no diagonal"),
        example=partial(by_hand, causal="no diagonal"),
    ),
    Mistake(
        name="causal mask one step ahead",
        hint="Your causal mask lets each token see the NEXT one too (tril(diagonal=1)): the very "
        "word it must predict. Position i may see positions 0 … i: causal_mask(L).",
        compute=partial(reference, causal="ahead"),
        example=partial(by_hand, causal="ahead"),
    ),
    Mistake(
        name="causal mask inverted",
        hint="Your causal mask is inverted: True marks the future here, PyTorch's convention for "
        "nn.MultiheadAttention. In this course True means MAY attend: pass causal_mask(L) "
        "as it is, not ~causal_mask(L) or triu(diagonal=1).",
        compute=partial(reference, causal="inverted"),
        example=partial(by_hand, causal="inverted"),
    ),
    Mistake(
        name="causal mask on cross-attention",
        hint="You gave the cross-attention a causal mask: target position i may read EVERY source "
        "token (the source is known in full). The causal mask belongs to the self-attention "
        "only: layer.cross_attn(x, memory, memory).",
        compute=partial(reference, cross_causal=True),
        example=partial(by_hand, cross_causal=True),
    ),
    Mistake(
        name="cross-attention queries from memory",
        hint="Cross-attention has its queries and keys swapped: the queries come from the "
        "decoder (x) and the keys and values from the encoder's output (memory): "
        "layer.cross_attn(x, memory, memory).",
        compute=partial(reference, cross="swapped"),
        example=partial(by_hand, cross="swapped"),
    ),
    Mistake(
        name="cross-attention on x",
        hint="Your cross-attention never looks at the encoder: its keys and values must be "
        "memory, not x: layer.cross_attn(x, memory, memory).",
        compute=partial(reference, cross="self"),
        example=partial(by_hand, cross="self"),
    ),
    Mistake(
        name="self-attention module reused",
        hint="You used layer.self_attn for the cross-attention too: it has its own weights, "
        "layer.cross_attn, trained to match target queries with source keys.",
        compute=partial(reference, cross="self module"),
        example=partial(by_hand, cross="self module"),
    ),
    Mistake(
        name="cross before self",
        hint="Your sublayers are in the wrong order: first masked self-attention (the target so "
        "far), then cross-attention (read the source), then the feed-forward network.",
        compute=partial(reference, order="cross first"),
        example=partial(by_hand, order="cross first"),
    ),
)


MISTAKES += MORE_MISTAKES  # met in the seventh audit: in layers_more
MISTAKES = FIRST + MISTAKES + MORE + ROUND_43B  # the round-41 and 43b batteries: in layers_slips
MISTAKES += ROUND_51B  # the mask in the value's place: layers_round51b


@learner_check
def check_decoder_layer(learner_fn: Callable) -> Result:
    """Exercise 07: ``fn(layer, x (B, Lt, d), memory (B, Ls, d)) → (B, Lt, d)``, a post-norm decoder
    layer's forward using ``layer.self_attn``, ``layer.cross_attn``, ``layer.feed_forward`` and
    ``layer.norm1``/``norm2``/``norm3`` (eval mode, no padding)."""
    with torch.no_grad():
        cases = _cases()
        result = check_function(
            learner_fn, reference, cases, name="decoder_layer", mistakes=MISTAKES, needs_grad=True
        )
        return note_built_ins(result, learner_fn, cases, asked_for.DECODER_LAYER)


EXERCISES = (
    Exercise(
        name="decoder_layer",
        chapter="07",
        check=check_decoder_layer,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
