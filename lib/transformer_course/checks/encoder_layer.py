"""Exercise 07c: a post-norm encoder layer's forward, checked against ``nn.TransformerEncoderLayer``.

``fn(layer, x (B, L, d), mask (B, 1, 1, L)) → (B, L, d)`` using ``layer.self_attn``,
``layer.feed_forward``, ``layer.norm1`` and ``layer.norm2`` (eval mode): self-attention under
the padding mask (True = may attend), then the feed-forward network, each followed by Add &
Norm. The reference is PyTorch's own layer, whose weights the lib's layer copied.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import EncoderLayer
from ..masks import causal_mask
from . import asked_for
from . import encoder_layer_learners as learner
from .add_norm import add_norm_chain, layer_mistakes
from .built_ins import note_built_ins
from .encoder_layer_more import MORE_MISTAKES, ROUND_45B
from .encoder_layer_slips import MORE
from .harness import Exercise, Mistake, Result, check_function
from .layer_errors import float_mask, weights_taken
from .layers_round51b import ENCODER as ROUND_51B
from .stale import learner_check

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(layer: EncoderLayer, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, L, d_model), mask (B, 1, 1, L), True = may attend → (B, L, d_model)."""
    raise NotImplementedError


def solution(layer: EncoderLayer, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, L, d_model), mask (B, 1, 1, L), True = may attend → (B, L, d_model)."""
    attended, _ = layer.self_attn(x, mask=mask)  # every token looks at every real token
    x = layer.norm1(x + attended)  # Add & Norm 1
    return layer.norm2(x + layer.feed_forward(x))  # Add & Norm 2


def by_hand(
    layer,
    x,
    mask,
    *,
    wrap="post",
    skip=(),
    from_input=False,
    norms=(1, 2),
    use_mask="padding",
    order="af",
    dropout=False,
    mask_by_position=False,
):
    """A learner's encoder layer with one switch per catalogued mistake (all off: correct)."""
    m = {"padding": mask, "none": None, "inverted": ~mask, "causal": mask & causal_mask(x.shape[1])}[use_mask]
    attend = lambda h: (layer.self_attn(h, m) if mask_by_position else layer.self_attn(h, mask=m))[0]  # noqa: E731
    feed = (lambda h: F.dropout(layer.feed_forward(h), 0.1)) if dropout else layer.feed_forward
    blocks = (attend, feed) if order == "af" else (feed, attend)
    lns = [getattr(layer, f"norm{n}") if n else None for n in norms]
    return add_norm_chain(x, blocks, lns, wrap=wrap, skip=skip, from_input=from_input)


def _with_lib_add_norms(layer, x, mask):
    """The layer's own Add & Norm modules, given each sublayer as a function."""
    x = layer.add_norm1(x, lambda h: layer.self_attn(h, h, h, mask, need_weights=False)[0])
    return layer.add_norm2(x, layer.feed_forward)


ALTERNATIVES = {
    "lib's EncoderLayer forward": lambda layer, x, mask: layer(x, mask),
    "by hand, every switch off": by_hand,
    "its Add & Norm modules, fused attention": _with_lib_add_norms,
    "mask as (B, L, L)": lambda layer, x, mask: solution(layer, x, mask[:, 0].expand(-1, x.shape[1], -1)),
    "in float64": lambda layer, x, mask: solution(layer.double(), x.double(), mask),
    "query, key, value, mask by position": learner.positional_arguments,
    "its Add & Norm modules": learner.with_its_add_norms,
    "F.layer_norm with the layer's parameters": learner.functional_norms,
    "one story at a time": learner.one_story_at_a_time,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def reference(layer, x, mask, theirs: nn.TransformerEncoderLayer):
    """PyTorch's layer, whose weights ``layer`` copied (its mask: True = blocked, keys only)."""
    return theirs(x, src_key_padding_mask=~mask[:, 0, 0])


def variant(layer, x, mask, theirs, **mistake):
    """The layer's forward from its parts, in one of the usual wrong ways (see ``by_hand``)."""
    return by_hand(layer, x, mask, **mistake)


def _cases() -> list[tuple]:
    # Sentences with padding at the end and in the middle; norms with non-trivial scales and
    # shifts, so that a misplaced, missing or reused norm shows.
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(73)
        theirs = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True).eval()
        with torch.no_grad():
            for ln in (theirs.norm1, theirs.norm2):
                ln.weight.uniform_(0.5, 1.5), ln.bias.uniform_(-0.5, 0.5)
        layer = EncoderLayer(16, 4, 32, dropout=0.1).load_from_torch(theirs).eval()
    g = torch.Generator().manual_seed(73)
    real = [torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]]), torch.tensor([[1, 0, 1, 1, 1, 0]])]
    return [(layer, torch.randn(*r.shape, 16, generator=g), r.bool()[:, None, None, :], theirs) for r in real]


def _learner_takes_the_weights(layer, x, mask):
    _, attended = layer.self_attn(x, mask=mask)  # the pair is (output, weights)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


def _learner_adds_a_float_mask(layer, x, mask):
    additive = (1.0 - mask.float()) * -1e9  # the Hugging Face way: 0 where seen, -1e9 where not
    attended, _ = layer.self_attn(x, mask=additive)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


MISTAKES = (
    weights_taken("layer.self_attn returns", _learner_takes_the_weights),
    float_mask(_learner_adds_a_float_mask, right="the padding mask as it is: layer.self_attn(x, mask=mask)"),
    *layer_mistakes(
        by_hand,
        "layer.self_attn",
        lambda layer, x, mask: layer.norm1(x + layer.self_attn(x, mask=mask)),
    ),
    Mistake(
        name="no residuals",
        hint="Missing residual connections: each sublayer's output must be added to its input "
        "before the norm, x = norm(x + sublayer(x)).",
        compute=partial(variant, skip=(0, 1)),
        example=partial(by_hand, skip=(0, 1)),
    ),
    Mistake(
        name="no residual around self-attention",
        hint="Missing residual connection around the self-attention: norm1(x + attended), not "
        "norm1(attended).",
        compute=partial(variant, skip=(0,)),
        example=partial(by_hand, skip=(0,)),
    ),
    Mistake(
        name="no residual around the feed-forward",
        hint="Missing residual connection around the feed-forward network: "
        "norm2(x + feed_forward(x)), not norm2(feed_forward(x)).",
        compute=partial(variant, skip=(1,)),
        example=partial(by_hand, skip=(1,)),
    ),
    Mistake(
        name="norm(x) + sublayer(x)",
        hint="You normalised x and then added the sublayer's output, norm(x) + sublayer(x). Add "
        "first, then normalise the sum: norm1(x + attended).",
        compute=partial(variant, wrap="norm x"),
        example=partial(by_hand, wrap="norm x"),
    ),
    Mistake(
        name="pre-norm",
        hint="You normalised the input of each sublayer, x + sublayer(norm(x)) (pre-norm). This "
        "layer is post-norm, as in the paper: x = norm(x + sublayer(x)).",
        compute=partial(variant, wrap="pre"),
        example=partial(by_hand, wrap="pre"),
    ),
    Mistake(
        name="norm before the add",
        hint="You normalised the sublayer's output and then added x, x + norm(sublayer(x)). Add "
        "first, then normalise the sum: norm(x + sublayer(x)).",
        compute=partial(variant, wrap="inside"),
        example=partial(by_hand, wrap="inside"),
    ),
    Mistake(
        name="residual from the layer's input",
        hint="Your feed-forward residual adds the layer's INPUT x, not the feed-forward's own "
        "input (the output of Add & Norm 1). Overwrite x after each sublayer: "
        "x = norm1(x + attended), then norm2(x + feed_forward(x)).",
        compute=partial(variant, from_input=True),
        example=partial(by_hand, from_input=True),
    ),
    Mistake(
        name="norm1 used twice",
        hint="You used norm1 after both sublayers: each Add & Norm has its own LayerNorm, with its "
        "own learned scale and shift. The second one is layer.norm2.",
        compute=partial(variant, norms=(1, 1)),
        example=partial(by_hand, norms=(1, 1)),
    ),
    Mistake(
        name="norm1 and norm2 swapped",
        hint="Your two LayerNorms are swapped: norm1 belongs to the self-attention's Add & Norm, "
        "norm2 to the feed-forward's. Each has its own learned scale and shift.",
        compute=partial(variant, norms=(2, 1)),
        example=partial(by_hand, norms=(2, 1)),
    ),
    Mistake(
        name="no norm after the feed-forward",
        hint="The LayerNorm after the feed-forward network is missing: the layer ends with "
        "layer.norm2(x + layer.feed_forward(x)).",
        compute=partial(variant, norms=(1, None)),
        example=partial(by_hand, norms=(1, None)),
    ),
    Mistake(
        name="no norm after self-attention",
        hint="The LayerNorm after the self-attention is missing: x = layer.norm1(x + attended).",
        compute=partial(variant, norms=(None, 2)),
        example=partial(by_hand, norms=(None, 2)),
    ),
    Mistake(
        name="padding mask not passed",
        hint="The padding mask is not used: every token attends to the <pad> positions too. Pass "
        "it to the self-attention: layer.self_attn(x, mask=mask).",
        compute=partial(variant, use_mask="none"),
        example=partial(by_hand, use_mask="none"),
    ),
    Mistake(
        name="mask inverted",
        hint="Your mask is inverted: in this course True means MAY attend, so pass the mask as it "
        "is, not ~mask (that is PyTorch's nn.MultiheadAttention convention).",
        compute=partial(variant, use_mask="inverted"),
        example=partial(by_hand, use_mask="inverted"),
    ),
    Mistake(
        name="causal mask",
        hint="You added a causal mask: an encoder reads the whole source at once, so each token "
        "may see the tokens after it too. Use only the padding mask.",
        compute=partial(variant, use_mask="causal"),
        example=partial(by_hand, use_mask="causal"),
    ),
    Mistake(
        name="feed-forward first",
        hint="Your sublayers are in the wrong order: self-attention comes first (tokens gather "
        "context), then the feed-forward network (each token on its own).",
        compute=partial(variant, order="fa"),
        example=partial(by_hand, order="fa"),
    ),
)


def _sublayers(layer, x, mask, theirs=None, *, ff_on="h", ff_residual="h", ff=True, norm2_first=False):
    """The layer's forward with the feed-forward network fed (``ff_on``) and its residual
    taken (``ff_residual``) from "x" (the layer's input), "h" (Add & Norm 1's output, right)
    or "attended" (the self-attention's output); ff=False: no feed-forward at all;
    norm2_first: norm2 in place of norm1."""
    attended, _ = layer.self_attn(x, mask=mask)
    h = (layer.norm2 if norm2_first else layer.norm1)(x + attended)
    if not ff:
        return layer.norm2(h)
    pick = {"x": x, "h": h, "attended": attended}
    return layer.norm2(pick[ff_residual] + layer.feed_forward(pick[ff_on]))


def _learner_feeds_the_input_forward(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    h = layer.norm1(x + attended)
    return layer.norm2(h + layer.feed_forward(x))  # x: the layer's input, not h


def _learner_adds_the_attention_back(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    h = layer.norm1(x + attended)
    return layer.norm2(attended + layer.feed_forward(h))  # residual from the wrong tensor


def _learner_forgets_the_feed_forward(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    x = layer.norm1(x + attended)
    return layer.norm2(x)  # the feed-forward sublayer never called


def _learner_uses_norm2_twice(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    x = layer.norm2(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


def _learner_masks_the_queries(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask.transpose(-2, -1))  # (B, 1, L, 1): rows, not keys
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


# Answers met in the seventh audit: each names what it computes.
MISTAKES += (
    Mistake(
        name="feed-forward on the layer's input",
        hint="Your feed-forward network reads the layer's INPUT x, not the output of Add & Norm 1: "
        "the sublayers run one after the other. x = norm1(x + attended), then "
        "norm2(x + feed_forward(x)) with that new x.",
        compute=partial(_sublayers, ff_on="x"),
        example=_learner_feeds_the_input_forward,
    ),
    Mistake(
        name="feed-forward residual from the attention",
        hint="Your feed-forward residual adds the self-attention's raw output: the residual is "
        "the feed-forward's own input, the output of Add & Norm 1: "
        "h = norm1(x + attended); norm2(h + feed_forward(h)).",
        compute=partial(_sublayers, ff_residual="attended"),
        example=_learner_adds_the_attention_back,
    ),
    Mistake(
        name="no feed-forward",
        hint="The feed-forward sublayer is missing: after Add & Norm 1 comes "
        "norm2(x + layer.feed_forward(x)).",
        compute=partial(_sublayers, ff=False),
        example=_learner_forgets_the_feed_forward,
    ),
    Mistake(
        name="norm2 used twice",
        hint="You used norm2 after both sublayers: each Add & Norm has its own LayerNorm, with its "
        "own learned scale and shift. The first one is layer.norm1.",
        compute=partial(_sublayers, norm2_first=True),
        example=_learner_uses_norm2_twice,
    ),
    Mistake(
        name="padding mask on the queries",
        hint="Your mask hides the padded QUERIES (rows), not the padded KEYS: pass it as given, "
        "(B, 1, 1, L), so that every query ignores the <pad> keys: layer.self_attn(x, mask=mask).",
        compute=lambda layer, x, mask, theirs: _sublayers(layer, x, mask.transpose(-2, -1)),
        example=_learner_masks_the_queries,
    ),
)

MISTAKES += MORE_MISTAKES  # met in the eleventh audit: in encoder_layer_more
MISTAKES += MORE  # met in the round-41 battery: in encoder_layer_slips
MISTAKES += ROUND_45B  # the residual from the normalised x: encoder_layer_more
MISTAKES += ROUND_51B  # the mask in the value's place: layers_round51b


@learner_check
def check_encoder_layer(learner_fn: Callable) -> Result:
    """Exercise 07c: ``fn(layer, x (B, L, d), mask (B, 1, 1, L)) → (B, L, d)``, a post-norm encoder
    layer's forward from ``layer.self_attn``, ``layer.feed_forward``, ``layer.norm1``/``norm2``,
    compared with ``nn.TransformerEncoderLayer`` whose weights the layer copied."""
    if not callable(learner_fn):
        raise ValueError(f"learner_fn must be a function, got {type(learner_fn).__name__}")

    def learners(layer, x, mask, theirs):  # PyTorch's layer is for the reference only
        return learner_fn(layer, x, mask)

    # The verdicts name the learner's own function (my_encoder_layer), not this wrapper.
    name = getattr(learner_fn, "__name__", None)
    learners.__name__ = name if isinstance(name, str) else "encoder_layer"
    learners.__wrapped__ = learner_fn  # and their warnings quote its code
    cases = _cases()
    result = check_function(
        learners, reference, cases, name="encoder_layer", mistakes=MISTAKES, needs_grad=True
    )
    return note_built_ins(result, learners, cases, asked_for.ENCODER_LAYER)


EXERCISES = (
    Exercise(
        name="encoder_layer",
        chapter="07",
        check=check_encoder_layer,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
