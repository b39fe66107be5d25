"""Chapter 07's exercise: the decoder-layer checker passes the reference, names each mistake."""

import pytest
import torch
from transformer_course.checks import ERROR, NOT_ATTEMPTED, PASSED, WRONG, check_decoder_layer
from transformer_course.masks import causal_mask


def build(layer, x, memory, *, skip_residual=(), norm="post", causal=True, cross="right"):
    """A learner-style decoder layer with one switch per mistake."""
    mask = causal_mask(x.shape[1]) if causal else None
    queries, keys = {"right": (None, memory), "swapped": (memory, None), "self": (None, None)}[cross]
    sublayers = {
        "self": (lambda z: layer.self_attn(z, mask=mask)[0], layer.norm1),
        "cross": (
            lambda z: layer.cross_attn(
                queries if queries is not None else z,
                keys if keys is not None else z,
                keys if keys is not None else z,
            )[0],
            layer.norm2,
        ),
        "ff": (layer.feed_forward, layer.norm3),
    }
    for name, (fn, ln) in sublayers.items():
        if norm == "pre":
            x = x + fn(ln(x))
        elif norm == "inside":
            x = x + ln(fn(x))
        else:
            x = ln(fn(x)) if name in skip_residual else ln(x + fn(x))
    return x


def test_reference_and_lib_layer_pass():
    assert check_decoder_layer(build).status == PASSED
    # Calling the lib's own layer is a correct answer too.
    assert check_decoder_layer(lambda layer, x, m: layer(x, m, causal_mask(x.shape[1]))).passed


def test_unattempted_is_reported_not_raised():
    def learner(layer, x, memory):
        raise NotImplementedError

    assert check_decoder_layer(learner).status == NOT_ATTEMPTED


MISTAKES = {
    "no residual at all": (dict(skip_residual=("self", "cross", "ff")), "Missing residual connections"),
    "no residual, self": (dict(skip_residual=("self",)), "around the masked self-attention"),
    "no residual, cross": (dict(skip_residual=("cross",)), "around the cross-attention"),
    "no residual, ff": (dict(skip_residual=("ff",)), "around the feed-forward network"),
    "pre-norm": (dict(norm="pre"), "pre-norm"),
    "norm inside": (dict(norm="inside"), "Add first, then normalise"),
    "no causal mask": (dict(causal=False), "No causal mask"),
    "swapped cross": (dict(cross="swapped"), "queries and keys swapped"),
    "cross on x": (dict(cross="self"), "never looks at the encoder"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_gets_its_own_hint(name):
    switches, words = MISTAKES[name]
    result = check_decoder_layer(lambda layer, x, m: build(layer, x, m, **switches))
    assert result.status == WRONG and words in result.message, result.message
    others = [w for n, (_, w) in MISTAKES.items() if n != name]
    assert not any(w in result.message for w in others), result.message


def test_unknown_mistake_gets_the_place_of_the_difference():
    result = check_decoder_layer(lambda layer, x, m: build(layer, x, m) * 1.01)
    assert result.status == WRONG and "largest difference" in result.message


def test_crash_is_reported():
    result = check_decoder_layer(lambda layer, x, m: layer.cross_attn(x, m)[0] @ torch.ones(3, 3))
    assert result.status == ERROR and "RuntimeError" in result.message


def test_checker_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_decoder_layer(build)
    assert torch.equal(torch.rand(3), expected)
