"""Round 42b of the fuzzing: what round 42 found and left, and the corpus modules' public API.

- ``torch.jit.trace`` of any lib module failed its own sanity check ("Graphs differed across
  invocations"): the check re-runs the module under no_grad, where attention wrote its softmax
  into the scores (``out=``) and narrow heads took the fused kernel, so the two graphs differed.
  A seq2seq ``Transformer`` could not be traced at all: its causal mask refused the 0-d tensor
  that a shape is while tracing ("length must be a positive int, got tensor(5)").
- PyTorch's model-ensembling recipe (``stack_module_state``, a base copy moved to the meta device,
  ``vmap(functional_call)``) refused every tied-embedding model ("ids is on cpu, the model's
  weights on meta"): ``Module.to("meta")`` (and ``to_empty``) gave the output layer a Parameter of
  its own, untying it from the token embeddings, so functional_call never swapped it.
- ``from_scratch``'s Encoder and Decoder named only the mask when a mask did not fit x, against
  energies whose sizes the caller never passed; a mask larger than the energies where they have
  1 (one query) passed the check and failed inside torch ("shape '[3, 1, 8]' is invalid").
- Public helpers with no row in the bad-inputs sweep: ``from_scratch.attention.copy_bias`` failed
  inside torch for every call outside ``no_grad`` ("a leaf Variable that requires grad …"), and
  silently filled a bias from a (1,) tensor by broadcasting; ``check_holds_weights`` given
  something else than a module failed with an AttributeError.
- The story modules: ``food_table``/``event_table`` of one character twice failed inside
  ``Table`` ("RuntimeError: the food table writes some sentence in two ways"); ``floor_on`` of
  stories holding ``<bos>`` alone divided by zero, and a Story of no tokens counted -1 predicted
  tokens; ``story_ids.decode`` kept what came before the first ``<bos>``, which its docstring
  says it drops.
- ``kernel_memory.measure`` given an int as ``path`` read that file descriptor (``open(3)``: "Bad
  file descriptor"), None failed inside nbformat; a ``timeout`` of 0 or True ended every cell
  at once.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch.func import functional_call, stack_module_state
from transformer_course import from_scratch, kernel_memory, lm_training, story_ids, story_world
from transformer_course.attention import MultiHeadAttention
from transformer_course.from_scratch.attention import check_holds_weights, copy_bias
from transformer_course.layers import DecoderLayer, EncoderLayer
from transformer_course.model import (
    DecoderOnlyTransformer,
    EncoderOnlyTransformer,
    Transformer,
    TransformerConfig,
)
from transformer_course.stories import StoryGenerator
from transformer_course.story_record import Story

TINY = TransformerConfig(
    vocab_size=11,
    d_model=8,
    num_heads=2,
    num_encoder_layers=2,
    num_decoder_layers=2,
    d_ff=16,
    max_len=16,
    dropout=0.0,
)


def _trace(module, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about shapes read as Python numbers
        return torch.jit.trace(module, args)  # check_trace=True: the sanity check that failed


def _ids(*shape, seed=0):
    return torch.randint(1, TINY.vocab_size, shape, generator=torch.Generator().manual_seed(seed))


def _traced_cases():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8)
    return {
        "mha": (MultiHeadAttention(8, 2).eval(), (x,), (torch.randn(3, 6, 8),)),
        "mha_narrow": (MultiHeadAttention(8, 4).eval(), (x,), (torch.randn(1, 3, 8),)),
        "encoder_layer": (EncoderLayer(8, 2, 16).eval(), (x,), (torch.randn(3, 7, 8),)),
        "decoder_layer": (
            DecoderLayer(8, 2, 16).eval(),
            (x, torch.randn(2, 4, 8)),
            (torch.randn(3, 6, 8), torch.randn(3, 2, 8)),
        ),
        "gpt": (DecoderOnlyTransformer(TINY).eval(), (_ids(2, 7),), (_ids(3, 5, seed=1),)),
        "bert": (EncoderOnlyTransformer(TINY).eval(), (_ids(2, 7),), (_ids(1, 9, seed=1),)),
        "seq2seq": (
            Transformer(TINY).eval(),
            (_ids(2, 7), _ids(2, 5, seed=2)),
            (_ids(3, 6, seed=3), _ids(3, 9, seed=4)),
        ),
    }


@pytest.mark.parametrize("name", list(_traced_cases()))
def test_jit_trace_passes_its_check_and_equals_eager(name):
    module, args, other = _traced_cases()[name]
    traced = _trace(module, args)
    for inputs in (args, other):  # the traced inputs, and another batch and length
        with torch.no_grad():
            expected, got = module(*inputs), traced(*inputs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = got if isinstance(got, tuple) else (got,)
        for e, g in zip(expected, got):
            if e is not None:
                assert torch.equal(e, g)  # the same kernels as eager under no_grad: bit for bit


def test_a_gpt_traced_without_padding_reads_padding_later():
    """The GPT took the causal kernel when its ids held no padding: a trace of such ids kept that
    branch, and gave padded ids of a later call the padding's attention without a word."""
    gpt = DecoderOnlyTransformer(TINY).eval()
    traced = _trace(gpt, (_ids(2, 7),))
    padded = _ids(3, 6, seed=6)
    padded[0, -2:] = TINY.pad_id
    padded[2, -4:] = TINY.pad_id
    with torch.no_grad():
        assert torch.equal(traced(padded), gpt(padded))


def test_attention_traced_with_a_full_mask_zeroes_a_later_empty_row():
    """Weights of a query with no key are 0 (as PyTorch's kernel gives); a trace made with a mask
    where every query had a key kept the uniform weights of such a row instead."""
    torch.manual_seed(7)
    mha = MultiHeadAttention(8, 2).eval()
    x, mask = torch.randn(2, 5, 8), torch.ones(5, 5, dtype=torch.bool).tril()
    traced = _trace(mha, (x, x, x, mask))
    empty_first = mask.clone()
    empty_first[0] = False
    with torch.no_grad():
        out, weights = traced(x, x, x, empty_first)
        expected_out, expected_weights = mha(x, x, x, empty_first)
    assert not weights[:, :, 0].any()
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(out, expected_out)


def test_jit_trace_keeps_gradients_of_eager():
    torch.manual_seed(1)
    layer = EncoderLayer(8, 2, 16).eval()
    x = torch.randn(2, 5, 8)
    traced = _trace(layer, (x,))
    eager_x, traced_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    layer(eager_x).square().sum().backward()
    eager_grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    traced(traced_x).square().sum().backward()
    torch.testing.assert_close(traced_x.grad, eager_x.grad)
    for p, g in zip(layer.parameters(), eager_grads):
        torch.testing.assert_close(p.grad, g)


def test_eager_attention_is_unchanged_outside_tracing():
    """Outside a trace, the no-grad path still writes softmax into the scores (bit-equal to
    a fresh softmax), and a gradient still takes the narrow-heads kernel."""
    torch.manual_seed(2)
    mha = MultiHeadAttention(8, 4).eval()
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        out, weights = mha(x)
    q = x.clone().requires_grad_()
    out_grad, weights_grad = mha(q)
    assert torch.equal(weights, weights_grad.detach())
    torch.testing.assert_close(out, out_grad.detach())


def _models():
    return {
        "gpt": (DecoderOnlyTransformer, (_ids(2, 5),)),
        "bert": (EncoderOnlyTransformer, (_ids(2, 5),)),
        "seq2seq": (Transformer, (_ids(2, 5), _ids(2, 4, seed=1))),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_ensembling_with_a_meta_base_works_for_tied_models(name):
    """PyTorch's torch.func tutorial, as written: stack the models' state, a base on meta."""
    cls, args = _models()[name]
    torch.manual_seed(3)
    models = [cls(TINY).eval() for _ in range(3)]
    assert TINY.tie_embeddings
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def one(p, b):
        return functional_call(base, (p, b), args)

    out = torch.vmap(one)(params, buffers)
    with torch.no_grad():
        for i, model in enumerate(models):
            assert torch.equal(out[i], model(*args))


@pytest.mark.parametrize("move", ["meta", "to_empty"])
def test_moves_through_meta_keep_the_output_tied(move):
    model = DecoderOnlyTransformer(TINY)
    moved = model.to("meta") if move == "meta" else copy.deepcopy(model).to_empty(device="cpu")
    assert moved.output.weight is moved.embed.token.lookup.weight
    shared = sum(p.numel() for p in moved.parameters())
    assert shared == sum(p.numel() for p in DecoderOnlyTransformer(TINY).parameters())


def test_to_empty_then_load_state_dict_trains_one_matrix():
    """The message's own advice (to_empty, then load_state_dict) gave two matrices that an
    optimizer step then moved apart: the tie was lost without a word."""
    model = DecoderOnlyTransformer(TINY)
    fresh = copy.deepcopy(model).to("meta").to_empty(device="cpu")
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        fresh.output.weight.add_(1.0)
    assert torch.equal(fresh.output.weight, fresh.embed.token.lookup.weight)


def test_untied_models_stay_untied_through_meta():
    cfg = TransformerConfig(**{**TINY.__dict__, "tie_embeddings": False})
    model = DecoderOnlyTransformer(cfg).to("meta")
    assert model.output.weight is not model.embed.token.lookup.weight


def _scratch():
    torch.manual_seed(4)
    enc = from_scratch.Encoder(10, 8, 2, 2, 2, 0.0, 16)
    dec = from_scratch.Decoder(10, 8, 2, 2, 2, 0.0, 16)
    return enc, dec


BOOL = torch.bool


@pytest.mark.parametrize(
    "mask_shape, wrong",
    [((2, 1, 1, 4), "batch"), ((3, 1, 1, 5), "length"), ((3, 3, 4, 4), "heads")],
)
def test_scratch_encoder_names_x_and_the_mask(mask_shape, wrong):
    enc, _ = _scratch()
    x = torch.randint(0, 10, (3, 4))
    with pytest.raises(ValueError) as info:
        enc(x, torch.ones(mask_shape, dtype=BOOL))
    message = str(info.value)
    assert f"mask of shape {mask_shape}" in message
    assert "x of shape (3, 4)" in message


def test_scratch_decoder_names_x_enc_out_and_each_mask():
    _, dec = _scratch()
    x, enc_out = torch.randint(0, 10, (3, 4)), torch.randn(3, 6, 8)
    with pytest.raises(
        ValueError, match=r"src_mask of shape \(3, 1, 1, 4\).*x of shape \(3, 4\) and enc_out"
    ):
        dec(x, enc_out, torch.ones(3, 1, 1, 4, dtype=BOOL), None)
    with pytest.raises(ValueError, match=r"trg_mask of shape \(3, 1, 5, 5\).*x of shape \(3, 4\)"):
        dec(x, enc_out, None, torch.ones(3, 1, 5, 5, dtype=BOOL))


def test_scratch_decoder_block_names_x_and_key_for_src_mask():
    block = from_scratch.DecoderBlock(8, 2, 2, 0.0)
    x, memory = torch.randn(3, 4, 8), torch.randn(3, 6, 8)
    with pytest.raises(ValueError) as info:
        block(x, memory, memory, torch.ones(3, 1, 5, 5, dtype=BOOL), None)
    message = str(info.value)
    assert "src_mask" in message and "x of shape (3, 4, 8)" in message and "key of shape (3, 6, 8)" in message
    assert "query of shape" not in message  # the cross-attention's inner name, never the caller's


@pytest.mark.parametrize("mask_shape", [(3, 1, 5, 1), (3, 4, 1, 1), (6, 1, 1, 1)])
def test_scratch_attention_refuses_a_mask_larger_than_the_energies(mask_shape):
    """A mask of size > 1 where the energies have 1 (one query, two heads, batch 3) broadcast
    both ways and passed; it then failed inside torch's reshape."""
    attention = from_scratch.SelfAttention(8, 2)
    q = torch.randn(3, 1, 8)
    with pytest.raises(ValueError, match=r"mask of shape .* does not fit query of shape \(3, 1, 8\)"):
        attention(q, q, q, torch.ones(mask_shape, dtype=BOOL))


@pytest.mark.parametrize("mask_shape", [(4,), (1, 4), (3, 1, 1, 4), (3, 1, 4, 4), (3, 2, 4, 4), ()])
def test_scratch_encoder_still_takes_masks_that_fit(mask_shape):
    enc, _ = _scratch()
    x = torch.randint(0, 10, (3, 4))
    mask = torch.rand(mask_shape, generator=torch.Generator().manual_seed(5)) > 0.3
    out = enc(x, mask)
    reference = enc.embed(x, "x")
    for layer in enc.layers:  # the same blocks called one by one, past the new check
        reference = layer(reference, reference, reference, mask)
    assert torch.equal(out, reference)


def test_copy_bias_works_outside_no_grad():
    linear, bias = torch.nn.Linear(4, 3), torch.randn(3)
    copy_bias(linear, bias)
    assert torch.equal(linear.bias.detach(), bias) and linear.bias.requires_grad
    copy_bias(linear, None)
    assert not linear.bias.detach().any()


@pytest.mark.parametrize(
    "bias, expected",
    [
        (torch.ones(1), r"bias must have size 3"),
        (torch.ones(4), r"bias must have size 3"),
        (torch.ones(3, 1), r"bias must be 1-D"),
        (torch.ones(3, dtype=torch.long), r"bias must hold floating-point"),
        (torch.ones(3, device="meta"), r"bias must hold data"),
        ([0.0, 0.0, 0.0], r"bias must be a torch.Tensor"),
    ],
)
def test_copy_bias_refuses_a_bias_that_does_not_fit_by_name(bias, expected):
    linear = torch.nn.Linear(4, 3)
    before = linear.bias.detach().clone()
    with pytest.raises(ValueError, match=expected):
        copy_bias(linear, bias)
    assert torch.equal(linear.bias.detach(), before)  # nothing half copied


def test_copy_bias_copies_into_a_layer_norm_too():
    norm, bias = torch.nn.LayerNorm(3), torch.randn(3)
    copy_bias(norm, bias)
    assert torch.equal(norm.bias.detach(), bias)


@pytest.mark.parametrize(
    "linear",
    [None, "abc", torch.nn.ReLU(), torch.nn.Linear(4, 3, bias=False), torch.nn.LayerNorm(3, bias=False)],
)
def test_copy_bias_refuses_a_linear_without_a_bias_by_name(linear):
    with pytest.raises(ValueError, match=r"^linear must"):
        copy_bias(linear, torch.zeros(3))


@pytest.mark.parametrize("argument", ["theirs", "mine"])
@pytest.mark.parametrize("value", [None, "abc", torch.ones(2)])
def test_check_holds_weights_refuses_a_non_module_by_name(argument, value):
    args = {"name": "layer", "theirs": torch.nn.Linear(2, 2), "mine": torch.nn.Linear(2, 2), argument: value}
    with pytest.raises(ValueError, match=r"^layer must" if argument == "theirs" else r"^mine must"):
        check_holds_weights(**args)


@pytest.mark.parametrize("table", ["food", "event"])
@pytest.mark.parametrize("key", ["mia", "tom", "the cats"])
def test_story_tables_refuse_one_character_twice_by_name(table, key):
    with pytest.raises(ValueError, match=rf"^b must be another character than a .*{key!r} twice"):
        story_world.food_table(key, key) if table == "food" else story_world.event_table(key, key, "pizza")


def test_story_tables_of_every_cast_pair_are_unchanged():
    for a, b in story_world.cast_pairs():
        assert story_world.food_table(a.key, b.key).entries  # a pair of two characters: taken
        assert story_world.event_table(a.key, b.key, "cake").entries


def test_floor_on_stories_with_nothing_to_predict_is_refused_by_name():
    with pytest.raises(ValueError, match=r"^stories must hold at least one token after <bos>"):
        lm_training.floor_on([Story(("<bos>",), 0.0, ())])
    with pytest.raises(ValueError, match=r"^stories must hold at least one token after <bos>"):
        lm_training.floor_on([Story((), 0.0, ())])


def test_floor_on_generated_stories_is_unchanged():
    stories = StoryGenerator().sample(20, seed=3)
    expected = -sum(s.log_prob for s in stories) / sum(len(s.tokens) - 1 for s in stories)
    assert lm_training.floor_on(stories) == expected


def test_a_story_of_no_tokens_predicts_none():
    assert Story((), 0.0, ()).num_predicted == 0
    story = StoryGenerator().sample(1, seed=4)[0]
    assert story.num_predicted == len(story.tokens) - 1


def _vocab_ids(*tokens):
    return torch.tensor(story_ids.story_vocab().ids(list(tokens)))


@pytest.mark.parametrize(
    "tokens, expected",
    [
        (("were", "<eos>", "<bos>", "were", "<eos>", "cake"), ["<bos>", "were", "<eos>"]),
        (("<pad>", "cake", "<bos>", "were"), ["<bos>", "were"]),
        (("<bos>", "were", "<bos>", "<eos>"), ["<bos>", "were", "<bos>", "<eos>"]),  # the first <bos>
        (("were", "<pad>", "<eos>", "cake"), ["were", "<eos>"]),  # no <bos>: from the start
    ],
)
def test_decode_starts_at_the_first_bos(tokens, expected):
    assert story_ids.decode(_vocab_ids(*tokens)) == expected


def test_decode_of_encoded_stories_is_unchanged():
    stories = StoryGenerator().sample(5, seed=5)
    for row, story in zip(story_ids.encode(stories, length=60), stories):
        assert tuple(story_ids.decode(row)) == story.tokens


@pytest.mark.parametrize("path", [None, 3, b"chapters/00_welcome.ipynb", ["a.ipynb"]])
def test_kernel_memory_measure_refuses_a_path_that_is_not_one(path):
    with pytest.raises(ValueError, match=r"^path must be a pathlib.Path"):
        kernel_memory.measure(path)


@pytest.mark.parametrize("timeout", [0, -5, True, 2.5, "300"])
def test_kernel_memory_measure_refuses_a_bad_timeout_before_starting_a_kernel(timeout, tmp_path):
    with pytest.raises(ValueError, match=r"^timeout must be a positive int"):
        kernel_memory.measure(tmp_path / "00_x.ipynb", timeout=timeout)
