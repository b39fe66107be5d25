"""Round 41 of the fuzzing: lib against PyTorch with the values the earlier rounds did not try.

A throwaway fuzzer fed every row of the bad-input sweep (``test_bad_inputs_sweep``) tensors it
lacked (NaN or inf inside, bfloat16, requires_grad, non-contiguous, expanded, empty in dimension
1, int8/int16 ids), compared lib's softmax with ``torch.softmax`` on rows holding NaN or ±inf,
and ran ``from_scratch`` (which the sweep does not cover) against PyTorch's layers of every
option. It found:

- ``stable_softmax`` of a row holding a NaN returned that row's raw exponentials (weights of 2.7
  and 7.4, summing to anything) where ``torch.softmax`` gives NaN: the NaN total was taken for
  a row of only -inf and not divided by;
- a split indexed by an int8 or int16 tensor, which its message lists as accepted, failed inside
  torch ("tensors used as indices must be long, int, byte or bool tensors");
- ``from_scratch``'s blocks could not copy PyTorch's layers built with ``bias=False`` (a raw
  "Missing key(s) in state_dict" with half the block copied), refused an ``nn.ReLU()`` module
  as not ReLU, failed inside torch given an ``nn.MultiheadAttention`` on the meta device
  ("Tensor.item() cannot be called on meta tensors") and copied nothing, silently, into a
  module on the meta device;
- ``from_scratch.Transformer.load_embeddings_from`` cut a course model's bigger vocabulary to
  its own size without a word, and a refused call had already overwritten the encoder's tables;
- a device mismatch with the meta device advised a dead end: "move it there with
  ids.to('meta')" (then refused: a meta tensor holds no ids), or ``query.to('cpu')`` for a meta
  query ("Cannot copy out of meta tensor");
- ``copy.deepcopy`` of any model or layer after a call with ``need_weights=True`` while gradients
  were on, and of a cache filled by ``forward_cached`` with gradients, failed inside torch (deepcopy
  refuses tensors that are not graph leaves); pickle refused a cache's weakref to its model;
- the pronoun heads of a float64 model, or under ``torch.set_default_dtype(torch.float64)``, failed
  inside einsum and index_add_ (float32 masks and counts beside float64 weights);
- ``pointer.resolve`` refused the position a split holds, a 0-D tensor; ``from_scratch``'s decoder
  block named "query", an input made inside, for memory of another batch size;
- per-example gradients (``vmap(grad(loss))`` over a batch of ids) failed inside torch for every
  model: the id checks read values, and the GPT branched on whether its ids held padding.
"""

from __future__ import annotations

import copy
import io
import pickle
import re

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from transformer_course import _validate, data, pronoun_heads
from transformer_course import from_scratch as fs
from transformer_course.attention import MultiHeadAttention
from transformer_course.kv_cache import KVCache
from transformer_course.layers import DecoderLayer, EncoderLayer
from transformer_course.logits_fns import cached_logits_fn
from transformer_course.model import (
    DecoderOnlyTransformer,
    EncoderOnlyTransformer,
    Transformer,
    TransformerConfig,
)
from transformer_course.pointer import PronounPointer, resolve
from transformer_course.softmax import stable_softmax
from transformer_course.stories import StoryGenerator
from transformer_course.story_ids import story_vocab

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


# --- stable_softmax on rows holding NaN or ±inf ---


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_a_nan_score_makes_its_row_nan_as_in_torch(dtype, dim):
    """Random positions of NaN, along any dimension: each row holding one is NaN throughout, as
    ``torch.softmax`` gives it; the other rows keep torch's weights."""
    g = torch.Generator().manual_seed(int(dtype.itemsize) * 10 + dim)
    scores = (torch.randn(4, 5, 6, generator=g) * 5).to(dtype)
    scores[torch.rand(scores.shape, generator=g) < 0.05] = float("nan")
    mine, theirs = stable_softmax(scores, dim), torch.softmax(scores, dim)
    assert torch.equal(mine.isnan(), theirs.isnan())
    finite = ~theirs.isnan()
    low = dtype in (torch.float16, torch.bfloat16)  # torch rounds along dim 0 a unit apart
    tolerance = {"atol": 4e-3, "rtol": 1e-2} if low else {}
    torch.testing.assert_close(mine[finite], theirs[finite], **tolerance)


def test_rows_of_only_minus_inf_still_give_zeros_and_no_nan_gradient():
    """What the NaN fix must keep: a row with every key masked gives zeros (attention's rule),
    and its gradient is zero, not NaN."""
    scores = torch.tensor([[0.0, float("-inf"), 1.0], [float("-inf")] * 3], dtype=torch.float64)
    scores.requires_grad_()
    weights = stable_softmax(scores)
    assert torch.equal(weights[1], torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(weights[0], torch.softmax(scores[0].detach(), -1))
    weights.sum().backward()
    assert not scores.grad.isnan().any()


# --- a split indexed by the integer dtypes it lists ---


@pytest.mark.parametrize("dtype", [torch.int8, torch.int16, torch.int32])
def test_a_split_indexed_by_small_integers_picks_the_rows_int64_picks(dtype):
    task = data.sequence_task("reverse", num_train=12, num_test=4, max_len=5)
    pronouns = data.pronoun_task(num_train=8, num_test=4)
    for split in (task.train, pronouns.train):
        rows = torch.tensor([3, 0, -1, 5])
        want, got = split[rows], split[rows.to(dtype)]
        for field in ("src", "tgt", "lengths", "ids", "it_pos", "referent_pos", "distractor_pos"):
            if hasattr(want, field):
                assert torch.equal(getattr(got, field), getattr(want, field)), field
        if hasattr(want, "sentences"):
            assert got.sentences == want.sentences
        one = split[torch.tensor(2, dtype=dtype)]  # a 0-D index picks one row, as an int does
        assert len(one) == len(split[2])


# --- from_scratch against PyTorch's layers of every option ---


def _block_pair(bias: bool, decoder: bool, activation="relu"):
    """A from_scratch block (the paper's design) loaded from PyTorch's layer of the same sizes."""
    torch.manual_seed(int(bias) * 2 + int(decoder))
    kind = nn.TransformerDecoderLayer if decoder else nn.TransformerEncoderLayer
    layer = kind(8, 2, 16, 0.0, batch_first=True, bias=bias, activation=activation).eval()
    if bias:  # this design's projections have no bias: PyTorch's must be zero to be copied
        with torch.no_grad():
            for attn in (layer.self_attn, getattr(layer, "multihead_attn", None)):
                if attn is not None:
                    attn.in_proj_bias.zero_()
    block = (
        fs.DecoderBlock(8, 2, 2, 0.0, design=fs.PAPER)
        if decoder
        else fs.TransformerBlock(8, 2, 0.0, 2, design=fs.PAPER)
    ).eval()
    return layer, block.load_from_torch(layer)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("activation", ["relu", nn.ReLU()], ids=["string", "module"])
def test_from_scratch_encoder_block_copies_pytorchs_layer_of_either_bias(bias, activation):
    layer, block = _block_pair(bias, decoder=False, activation=activation)
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(x, x, x), layer(x))


@pytest.mark.parametrize("bias", [True, False])
def test_from_scratch_decoder_block_copies_pytorchs_layer_of_either_bias(bias):
    layer, block = _block_pair(bias, decoder=True)
    x, memory = torch.randn(2, 4, 8), torch.randn(2, 6, 8)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    with torch.no_grad():
        want = layer(x, memory, tgt_mask=~causal)
        torch.testing.assert_close(block(x, memory, memory, None, causal), want)


def test_from_scratch_refuses_the_meta_device_by_name():
    """On either side of a copy: nothing to read from a meta module, nowhere to copy into one."""
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    with pytest.raises(ValueError, match=r"\bmha must hold weights.*meta"):
        fs.SelfAttention(8, 2, design=fs.PAPER).load_from_torch(copy.deepcopy(mha).to("meta"))
    meta_attn = fs.SelfAttention(8, 2, design=fs.PAPER).to("meta")
    with pytest.raises(ValueError, match=r"meta device.*to_empty"):
        meta_attn.load_from_torch(mha)
    layer = nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True)
    with pytest.raises(ValueError, match=r"\blayer must hold weights.*meta"):
        fs.TransformerBlock(8, 2, 0.0, 2, design=fs.PAPER).load_from_torch(layer.to("meta"))


def _scratch(vocab: int = 12) -> fs.Transformer:
    return fs.Transformer(
        vocab, vocab, 0, 0, embed_size=8, num_layers=1, forward_expansion=2, heads=2, max_length=10
    )


def test_load_embeddings_from_a_course_model_of_another_vocabulary_changes_nothing():
    """A bigger source vocabulary is refused by name (it was cut silently), and a refusal, for
    the vocabulary or the output layer, leaves every table as it was."""
    untied = SMALL.replace(vocab_size=20, trg_vocab_size=12, tie_embeddings=False)
    for course in (Transformer(SMALL.replace(vocab_size=20)), Transformer(untied)):
        mine = _scratch()
        before = copy.deepcopy(mine.state_dict())
        with pytest.raises(ValueError, match=r"\bmodel(')?s? .*(vocabulary|output layer)"):
            mine.load_embeddings_from(course)
        for name, value in mine.state_dict().items():
            assert torch.equal(value, before[name]), name


def test_load_embeddings_from_a_meta_course_model_names_the_model():
    with pytest.raises(ValueError, match=r"\bmodel must hold weights.*meta"):
        _scratch().load_embeddings_from(Transformer(SMALL).to("meta"))


def test_load_embeddings_from_a_course_model_of_the_same_sizes_still_copies():
    course = Transformer(SMALL).eval()
    mine = _scratch().load_embeddings_from(course)
    token = course.src_embed.token
    torch.testing.assert_close(mine.encoder.word_embedding.weight, token.weight * 8**0.5)
    torch.testing.assert_close(mine.decoder.fc_out.weight, course.output.weight)


# --- device mismatches with the meta device ---


def test_a_model_on_the_meta_device_says_what_to_do_not_to_move_the_ids_there():
    gpt = DecoderOnlyTransformer(SMALL).to("meta")
    with pytest.raises(ValueError, match=r"\bids is on cpu.*meta.*to_empty") as info:
        gpt(torch.ones(1, 3, dtype=torch.long))
    assert ".to('meta')" not in str(info.value)


def test_a_meta_input_to_a_real_layer_is_not_told_to_move():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"\bquery is on meta.*no values") as info:
        mha(torch.randn(2, 3, 8, device="meta"))
    assert ".to('cpu')" not in str(info.value)


def test_an_ordinary_device_mismatch_still_says_how_to_move():
    """The remedy everyone else gets is kept: only a mismatch with meta is told otherwise."""
    with pytest.raises(ValueError, match=r"x is on cpu, the table on cuda:0: move it there with x\.to"):
        _validate.same_device("x", torch.ones(1), torch.device("cuda:0"), "the table")


# --- copies of a model that kept its attention weights with their graph ---


def _seq2seq_call(model):
    return model(torch.tensor([[1, 2, 3]]), torch.tensor([[1, 4]]), need_weights=True)


@pytest.mark.parametrize(
    ("build", "call"),
    [
        (lambda: DecoderOnlyTransformer(SMALL), lambda m: m(torch.tensor([[1, 2, 3]]), need_weights=True)),
        (lambda: Transformer(SMALL), _seq2seq_call),
        (lambda: EncoderLayer(8, 2, 16), lambda m: m(torch.randn(2, 3, 8), need_weights=True)),
        (
            lambda: DecoderLayer(8, 2, 16),
            lambda m: m(torch.randn(2, 3, 8), torch.randn(2, 4, 8), need_weights=True),
        ),
    ],
    ids=["gpt", "seq2seq", "encoder layer", "decoder layer"],
)
def test_a_model_that_kept_its_weights_with_gradients_on_can_be_deep_copied(build, call):
    """``copy.deepcopy(model)`` after ``need_weights=True`` with gradients on (a notebook's default):
    it failed inside torch, as deepcopy refuses a tensor that is not a graph leaf. The copy
    computes what the original does and keeps the weights' values; the original keeps its graph."""
    model = build()
    call(model).sum()
    twin = copy.deepcopy(model)
    for layer, theirs in zip(model.modules(), twin.modules(), strict=True):
        for name in ("self_attn_weights", "cross_attn_weights"):
            mine = getattr(layer, name, None)
            if isinstance(mine, torch.Tensor):
                assert mine.grad_fn is not None  # the original's are untouched
                assert torch.equal(getattr(theirs, name), mine.detach())
    torch.manual_seed(0)
    want = call(model)
    torch.manual_seed(0)
    torch.testing.assert_close(call(twin), want)
    torch.save(model, io.BytesIO())  # pickling took such tensors before, and still does


def test_a_cache_filled_with_gradients_on_can_be_deep_copied():
    """A layer's ``forward_cached`` with gradients on keeps keys that are part of a graph: the
    copy keeps their values (deepcopy failed inside torch); the original still backpropagates."""
    layer, cache = EncoderLayer(8, 2, 16, 0.0), KVCache(1, 10)
    x = torch.randn(2, 3, 8, requires_grad=True)
    layer.forward_cached(x, cache, 0)
    twin = copy.deepcopy(cache)
    assert torch.equal(twin.keys[0], cache.keys[0].detach())
    assert torch.equal(twin.values[0], cache.values[0].detach())
    assert cache.keys[0].grad_fn is not None
    out = layer.forward_cached(torch.randn(2, 1, 8), cache, 0)
    (out**2).sum().backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)


def test_a_cache_and_a_cached_logits_function_can_be_pickled():
    """pickle and torch.save refused the cache's weakref to its model ("cannot pickle
    'weakref.ReferenceType' object"). Loaded, the cache goes on where it stopped: the next step
    gives the logits the original's does."""
    gpt = DecoderOnlyTransformer(SMALL).eval()
    cache = gpt.new_cache()
    gpt.step(torch.tensor([[1, 2, 3]]), cache)
    buffer = io.BytesIO()
    torch.save(cache, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    nxt = torch.tensor([[4]])
    torch.testing.assert_close(gpt.step(nxt, loaded), gpt.step(nxt, cache))
    fn = cached_logits_fn(gpt)
    fn(torch.tensor([[1, 2]]))
    again = pickle.loads(pickle.dumps(fn))
    torch.testing.assert_close(again(torch.tensor([[1, 2, 5]])), fn(torch.tensor([[1, 2, 5]])))


def test_from_scratch_names_the_arguments_the_caller_passed():
    """A decoder block given memory of another batch size named "query" (the cross-attention's
    own input, made inside); a meta nn.Transformer named "layer" (its first layer's)."""
    block = fs.DecoderBlock(8, 2, 2, 0.0)
    x, memory = torch.randn(2, 3, 8), torch.randn(3, 4, 8)
    with pytest.raises(ValueError, match=r"^value must have the batch size of x \(2\)"):
        block(x, memory, memory, None, None)
    with pytest.raises(ValueError, match=r"^key must have the batch size of x \(2\)"):
        block(x, torch.randn(2, 4, 8), memory, None, None)
    theirs = nn.Transformer(8, 2, 1, 1, 16, 0.0, batch_first=True)
    theirs.encoder.norm = theirs.decoder.norm = None
    mine = fs.Transformer(
        12, 12, 0, 0, embed_size=8, num_layers=1, forward_expansion=2, heads=2, design=fs.PAPER
    )
    with pytest.raises(ValueError, match=r"^transformer\.encoder must hold weights.*meta"):
        mine.load_from_torch(theirs.to("meta"))


def test_resolve_takes_the_position_a_split_holds_as_a_zero_d_tensor():
    """``resolve(model, split.ids[i], split.it_pos[i])``: the position comes as a 0-D tensor, which
    was refused ("it_pos must be an int … got tensor(8)"); it gives what the int gives. A float
    or bool one, or one of several positions, is still refused by name."""
    task = data.pronoun_task(num_train=4, num_test=2)
    model = PronounPointer(SMALL.replace(vocab_size=len(task.vocab))).eval()
    ids, it_pos = task.test.ids[0], task.test.it_pos[0]
    assert it_pos.dim() == 0
    torch.testing.assert_close(resolve(model, ids, it_pos), resolve(model, ids, int(it_pos)))
    for bad in (it_pos.float(), torch.tensor(True), task.test.it_pos, torch.tensor(99)):
        with pytest.raises(ValueError, match=r"^it_pos must be an int"):
            resolve(model, ids, bad)


# --- the pronoun heads of a float64 model, or under torch's default dtype float64 ---


def _story_gpt(stories_vocab: int) -> DecoderOnlyTransformer:
    torch.manual_seed(0)
    return DecoderOnlyTransformer(SMALL.replace(vocab_size=stories_vocab, max_len=64)).eval()


def test_the_pronoun_heads_of_a_float64_model_are_those_of_its_float32_twin():
    """einsum refused to mix the float32 masks of mentions with a float64 model's weights."""
    stories = StoryGenerator().sample(6, seed=1)
    gpt = _story_gpt(len(story_vocab()))
    want = pronoun_heads.pronoun_attention(gpt, stories)
    got = pronoun_heads.pronoun_attention(copy.deepcopy(gpt).double(), stories)
    assert got.referent.dtype == torch.float64
    torch.testing.assert_close(got.referent, want.referent.double(), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got.distractor, want.distractor.double(), atol=1e-6, rtol=1e-5)


def test_the_pronoun_heads_are_found_under_the_default_dtype_float64():
    """``torch.set_default_dtype(torch.float64)``, which PyTorch users set for precision: the
    counts of lost stories were made in it, then added float32 losses (index_add_ refused), and
    a float32 model's weights met float64 masks (einsum refused)."""
    stories = StoryGenerator().sample(6, seed=1)
    gpt = _story_gpt(len(story_vocab()))  # float32, made before the default changes
    want_heads = pronoun_heads.find_pronoun_heads(gpt, stories)
    readings = pronoun_heads.pronoun_readings(gpt, stories, at=("query", "pronoun"))
    want_won = pronoun_heads.stories_won(readings, want_heads)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        heads = pronoun_heads.find_pronoun_heads(gpt, stories)
        again = pronoun_heads.pronoun_readings(gpt, stories, at=("query", "pronoun"))
        won = pronoun_heads.stories_won(again, heads)
        rate = again["query"].story_rate()
        twin = pronoun_heads.find_pronoun_heads(copy.deepcopy(gpt).double(), stories)
    finally:
        torch.set_default_dtype(before)
    assert heads == want_heads and won == want_won
    torch.testing.assert_close(rate, readings["query"].story_rate())
    assert {w: (h.layer, h.head) for w, h in twin.items()} == {w: (h.layer, h.head) for w, h in heads.items()}


# --- the sweep's entry points, given the tensors it does not try ---


def _more_tensors(valid: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Tensors a PyTorch user may pass that ``test_bad_inputs_sweep`` does not: NaN or inf
    inside, bfloat16, one that requires a gradient, a non-contiguous or expanded view, an empty
    second dimension, a narrower last one, int8 and int16 ids."""
    valid = valid.detach()
    out = []
    if valid.is_floating_point():
        if valid.numel():
            for label, value in (("nan inside", float("nan")), ("inf inside", float("inf"))):
                spoilt = valid.clone()
                spoilt.view(-1)[0] = value
                out.append((label, spoilt))
        out += [("bfloat16", valid.bfloat16()), ("requires_grad", valid.clone().requires_grad_())]
    if valid.dim() >= 2:
        out.append(("non-contiguous", valid.transpose(-1, -2).contiguous().transpose(-1, -2)))
        out.append(("expanded", valid[..., :1, :].expand(valid.shape)))
        out.append(("empty dimension 1", valid.new_zeros((valid.shape[0], 0, *valid.shape[2:]))))
    if valid.dim() >= 1 and valid.shape[-1] > 0:
        out.append(("narrower", valid[..., :-1]))
    if not valid.is_floating_point() and valid.dtype != torch.bool:
        out += [("int8", valid.to(torch.int8)), ("int16", valid.to(torch.int16))]
    return out


def _more_cases():
    import test_bad_inputs_sweep as sweep

    for entry_id, call, valid in sweep.ENTRIES:
        for argument, value in valid.items():
            if isinstance(value, torch.Tensor) and (entry_id, argument) not in sweep.INTERNAL:
                for label, bad in _more_tensors(value):
                    case = (entry_id, call, valid, argument, bad)
                    yield pytest.param(*case, id=f"{entry_id}-{argument}-{label}")


@pytest.mark.parametrize(("entry_id", "call", "valid", "argument", "bad"), list(_more_cases()))
def test_every_entry_point_takes_or_refuses_the_other_tensors_by_name(entry_id, call, valid, argument, bad):
    """Taken, or refused with a ValueError or TypeError: never an error from inside torch (an
    int16 index of a split was one), nor a hang. A refusal names an argument of the call (the
    one spoilt, or the one it no longer matches, e.g. a mask for an x of another length)."""
    import test_bad_inputs_sweep as sweep

    _, error = sweep.run_case(call, {**valid, argument: bad})
    assert not isinstance(error, sweep.Hang), "hung for more than 5 s"
    if error is not None:
        assert isinstance(error, ValueError | TypeError), f"{type(error).__name__}: {error}"
        names = "|".join(map(re.escape, [*valid, "x", "ids", "mask", "self_mask", "it_pos"]))
        names += "|" + sweep.NAMES.get((entry_id, argument), argument)  # masks[1] …
        assert re.search(rf"(?<!\w)({names})(?!\w)", str(error)), str(error)


# --- per-example gradients: torch.func.vmap over a model's ids ---


def _one_loss(model, params, row):
    """A loss of one example's logits (row (L,) as a batch of one), ``params`` as the weights."""
    args = (row[None],) if not isinstance(model, Transformer) else (row[None], row[None, :3])
    return functional_call(model, params, args).logsumexp(-1).sum()


@pytest.mark.parametrize("build", [DecoderOnlyTransformer, EncoderOnlyTransformer, Transformer])
def test_per_example_gradients_under_vmap_equal_one_example_at_a_time(build):
    """``vmap(grad(loss))`` over the examples of a batch (per-example gradients, as for DP-SGD):
    the id checks read values (``int(ids.min())``) and the GPT branched on its padding, both
    failing inside torch under vmap. Each example's gradient is the one its own call gives, rows
    with padding among them. (The encoder-decoder is built untied: PyTorch's vmap over
    functional_call gets a module shared at two places wrong on its first call, lib or not.)"""
    torch.manual_seed(0)
    model = build(SMALL.replace(tie_embeddings=build is not Transformer))
    params = {k: v.detach() for k, v in model.named_parameters()}
    ids = torch.tensor([[1, 5, 7, 2], [3, 4, 0, 0], [2, 2, 9, 11]])
    per_example = vmap(grad(lambda p, row: _one_loss(model, p, row)), in_dims=(None, 0))(params, ids)
    for i, row in enumerate(ids):
        for name, value in grad(_one_loss, argnums=1)(model, params, row).items():
            torch.testing.assert_close(per_example[name][i], value, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_cosine_in_half_precision_stays_within_one(dtype):
    """bfloat16 rounded a row's length and its products: a cosine of 1.01 (a widget drew it)."""
    from transformer_course.embeddings import similarity_matrix

    vectors = torch.randn(40, 24, generator=torch.Generator().manual_seed(3)).to(dtype)
    sims = similarity_matrix(vectors, "cosine")
    assert sims.dtype == dtype
    assert float(sims.abs().max()) <= 1.0
    want = torch.nn.functional.cosine_similarity(vectors.float()[:, None], vectors.float()[None], dim=-1)
    assert torch.allclose(sims.float(), want, atol=1e-2)


def test_stable_softmax_matches_torch_on_rows_with_inf_or_nan():
    """A +inf score made its row [nan, 0, 0] where torch.softmax's is all NaN; a row of only
    -inf still gives zeros (as PyTorch's fused attention), the one place the two differ."""
    from transformer_course.softmax import stable_softmax

    inf, nan = float("inf"), float("nan")
    rows = torch.tensor([[inf, 1.0, 2.0], [inf, inf, 0.0], [nan, 1.0, 2.0], [-inf, 1.0, 2.0], [1.0, 2, 3]])
    assert torch.allclose(stable_softmax(rows), torch.softmax(rows, dim=-1), equal_nan=True)
    assert torch.equal(stable_softmax(torch.full((1, 3), -inf)), torch.zeros(1, 3))


def _tiny_gpt():
    from transformer_course.config import TransformerConfig
    from transformer_course.model import DecoderOnlyTransformer

    config = TransformerConfig(
        vocab_size=20, d_model=16, num_heads=2, num_decoder_layers=1, d_ff=32, max_len=16
    )
    return DecoderOnlyTransformer(config).eval()


def test_a_shallow_copy_of_a_kv_cache_stays_its_models():
    """copy.copy went through __getstate__ (which drops the owner for pickle): the copy was then
    taken by any model of the same sizes, which step refuses by design."""
    import copy

    torch.manual_seed(0)
    a, b = _tiny_gpt(), _tiny_gpt()
    ids = torch.randint(1, 10, (1, 4))
    cache = a.new_cache()
    a.step(ids, cache)
    shallow = copy.copy(cache)
    with pytest.raises(ValueError, match="this model's new_cache"):
        b.step(ids[:, :1], shallow)
    assert a.step(ids[:, :1], shallow).shape == (1, 1, 20)


def test_embeddings_are_not_loaded_into_a_from_scratch_model_on_the_meta_device():
    """Accepted, and nothing copied: its tables stayed on the meta device."""
    from transformer_course.config import TransformerConfig
    from transformer_course.from_scratch.attention import PAPER
    from transformer_course.from_scratch.model import Transformer as FromScratch
    from transformer_course.model import Transformer

    config = TransformerConfig(
        vocab_size=20, d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=64
    )
    with torch.device("meta"):
        empty = FromScratch(20, 20, 0, 0, embed_size=16, num_layers=1, heads=2, max_length=16, design=PAPER)
    with pytest.raises(ValueError, match="meta device"):
        empty.load_embeddings_from(Transformer(config))


def test_the_story_explorer_draws_a_model_made_under_inference_mode():
    """Tensors made under torch.inference_mode() keep no version counter: reading it, to see
    whether the weights changed, failed ("Inference tensors do not track version counter")."""
    from test_widgets_ch09 import GENERATOR, VOCAB
    from transformer_course.config import TransformerConfig
    from transformer_course.model import DecoderOnlyTransformer
    from transformer_course.widgets import StoryExplorer

    torch.manual_seed(0)
    sizes = dict(d_model=32, num_heads=2, num_decoder_layers=2, d_ff=64, max_len=GENERATOR.max_tokens())
    config = TransformerConfig(vocab_size=len(VOCAB), norm_first=True, positional="learned", **sizes)
    with torch.inference_mode():
        model = DecoderOnlyTransformer(config).eval()
    explorer = StoryExplorer(model, VOCAB, generator=GENERATOR, max_new_tokens=12)
    assert "Could not update" not in explorer.message.value
    assert explorer.figures["distribution"] is not None
