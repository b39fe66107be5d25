"""Round 43 of the fuzzing: torch.compile(fullgraph=True), autocast's inputs, assign=True loads,
and angles earlier rounds left (dtypes end to end, strided ids, round trips, generation's edges).

What it found, each fixed in lib:

- ``torch.compile(model, fullgraph=True)`` failed for every whole model: the id check asked
  torch.func's C hook whether the ids were mapped (dynamo cannot call it), a mask's size check
  read the machine's memory through ``os.sysconf``, and in training the narrow-heads path ran
  an autograd.Function whose forward reads the scores (``bool(...any())``). Ids cannot be read
  while tracing: a compiled model now checks their range in the graph (``torch._assert_async``,
  a RuntimeError naming the argument) where the eager check would have broken the graph.
- ``cached_logits_fn(torch.compile(model))`` refused the wrapper ("got OptimizedModule"), which
  ``decoder_logits_fn`` takes.
- Under ``torch.autocast`` a layer given a bfloat16 input (what a previous autocast layer
  returns) refused it ("x must have dtype torch.float32"); PyTorch's layers take it.
- ``load_state_dict(sd, assign=True)`` (PyTorch's recipe after building on the meta device)
  untied the output layer from the token embeddings: two matrices trained from then on.
"""

from __future__ import annotations

import copy
import io
import pickle
import random

import pytest
import torch
from tiny_models import TINY
from torch import nn
from transformer_course import _validate, generation, sampling
from transformer_course.attention import MultiHeadAttention
from transformer_course.layers import DecoderLayer, EncoderLayer
from transformer_course.masks import causal_mask, to_blocked
from transformer_course.model import (
    DecoderOnlyTransformer,
    EncoderOnlyTransformer,
    Transformer,
    count_parameters,
)

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")


def _ids(*shape, seed=0, vocab=11):
    return torch.randint(1, vocab, shape, generator=torch.Generator().manual_seed(seed))


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


# ---------------------------------------------------------------- torch.compile(fullgraph=True)


def test_a_gpt_compiles_whole_in_training_and_equals_eager_with_its_gradients():
    """Training mode with gradients took the narrow-heads path (heads of 4): its
    autograd.Function and the ids' mapped check each broke the graph. aot_eager: AOTAutograd
    traces forward and backward as inductor would, in seconds rather than a minute."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = DecoderOnlyTransformer(TINY).train()
    ids = _ids(2, 6)
    ids[1, 4:] = TINY.pad_id  # the padding path (a mask), not only the causal flag
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    got = compiled(ids)
    got.square().sum().backward()
    got_grads = _grads(model)
    model.zero_grad()
    want = model(ids)
    want.square().sum().backward()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    for a, b in zip(got_grads, _grads(model)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_a_seq2seq_transformer_compiles_whole_with_weights_and_equals_eager():
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = Transformer(TINY.replace(positional="learned")).eval()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    src, trg = _ids(2, 5), _ids(2, 4, seed=9)
    src[0, -2:] = TINY.pad_id
    got = compiled(src, trg, need_weights=True)
    got_weights = model.attention_weights()
    want = model(src, trg, need_weights=True)
    torch.testing.assert_close(got, want)
    for kind, layers in model.attention_weights().items():
        for a, w in zip(got_weights[kind], layers, strict=True):
            torch.testing.assert_close(a, w, msg=kind)
    # Ids cannot be read while tracing: the graph checks them when it runs, by name.
    trg[1, 0] = TINY.vocab_size
    with pytest.raises(RuntimeError, match=r"trg_in must hold ids in \[0, 11\)"):
        compiled(src, trg)


def test_a_compiled_gpt_generates_with_a_kv_cache_what_the_model_writes():
    """cached_logits_fn refused torch.compile's wrapper ("got OptimizedModule"), which
    decoder_logits_fn takes: the cached steps run the model it wraps (nothing is compiled)."""
    torch.manual_seed(0)
    model = DecoderOnlyTransformer(TINY).eval()
    prompt = torch.tensor([1, 2, 3])
    fn = generation.cached_logits_fn(torch.compile(model, fullgraph=True))
    assert fn.model is model
    got = generation.generate(fn, prompt, max_new_tokens=4, strategy="sample", seed=3)
    want = generation.generate(
        generation.cached_logits_fn(model), prompt, max_new_tokens=4, strategy="sample", seed=3
    )
    assert torch.equal(got.ids, want.ids)
    with pytest.raises(ValueError, match="model must be a DecoderOnlyTransformer .* got OptimizedModule"):
        generation.cached_logits_fn(torch.compile(Transformer(TINY)))


def test_eager_calls_still_check_what_compiling_cannot_read():
    """The checks skipped while compiling are still made outside it, with the same messages."""
    model = DecoderOnlyTransformer(TINY).eval()
    assert not _validate.mapped(torch.ones(2))
    with pytest.raises(ValueError, match=r"ids must hold ids in \[0, 11\), got values from 1 to 11"):
        model(torch.tensor([[1, 11]]))
    with pytest.raises(ValueError, match="length must be a positive int"):
        causal_mask(0)
    with pytest.raises(ValueError, match="do not fit in this machine's memory"):
        causal_mask(2**40)


# ---------------------------------------------------------------- autocast's inputs


def _torch_and_lib(kind):
    torch.manual_seed(0)
    if kind == "mha":
        ref = nn.MultiheadAttention(8, 2, batch_first=True)
        return ref, MultiHeadAttention(8, 2).load_from_torch(ref)
    if kind == "encoder":
        ref = nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True)
        return ref, EncoderLayer(8, 2, 16, dropout=0.0).load_from_torch(ref)
    ref = nn.TransformerDecoderLayer(8, 2, 16, 0.0, batch_first=True)
    return ref, DecoderLayer(8, 2, 16, dropout=0.0).load_from_torch(ref)


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("kind", ["mha", "encoder", "decoder"])
def test_layers_take_autocasts_bfloat16_input_as_pytorch_does(kind, train):
    """A bfloat16 x (B, L, d) into float32 layers under CPU autocast: PyTorch's layers take it."""
    ref, mine = _torch_and_lib(kind)
    ref.train(train)
    mine.train(train)
    x = torch.randn(2, 5, 8).bfloat16()
    memory = torch.randn(2, 3, 8).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        if kind == "mha":
            got, want = mine(x, x, x, need_weights=False)[0], ref(x, x, x, need_weights=False)[0]
        elif kind == "encoder":
            got, want = mine(x), ref(x)
        else:
            got, want = mine(x, memory), ref(x, memory)
    assert got.dtype == want.dtype
    torch.testing.assert_close(got.float(), want.float(), atol=0.05, rtol=0.05)


def test_float64_into_a_float32_layer_is_still_refused_under_autocast():
    """Autocast leaves float64 as it is: the matmul would fail inside torch."""
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.raises(ValueError, match="x must have dtype"):
        EncoderLayer(8, 2, 16)(torch.randn(2, 5, 8, dtype=torch.float64))


# ---------------------------------------------------------------- loading and copying


def _saved_and_loaded(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize(
    ("build", "config"),
    [
        (DecoderOnlyTransformer, TINY),
        (EncoderOnlyTransformer, TINY),
        (Transformer, TINY),
        (Transformer, TINY.replace(trg_vocab_size=7)),
    ],
    ids=["gpt", "bert", "seq2seq shared", "seq2seq two vocabularies"],
)
@pytest.mark.parametrize("tie", [True, False])
def test_assign_true_from_the_meta_device_keeps_the_output_tied_and_the_positions(build, config, tie):
    """The sinusoidal table is a buffer that is not saved: it stayed on meta, and the first call
    failed inside torch ("Tensor on device meta is not on the expected device cpu!")."""
    config = config.replace(tie_embeddings=tie)
    torch.manual_seed(0)
    original = build(config)
    with torch.device("meta"):
        model = build(config)
    model.load_state_dict(_saved_and_loaded(original.state_dict()), strict=True, assign=True)
    table = (model.trg_embed if build is Transformer else model.embed).token
    assert (model.output.weight is table.lookup.weight) == tie
    assert count_parameters(model) == count_parameters(original)
    ids = _ids(2, 5, vocab=7)
    args = (ids, ids) if build is Transformer else (ids,)
    torch.testing.assert_close(model.eval()(*args), original.eval()(*args), rtol=0, atol=0)


def test_an_ordinary_load_leaves_a_model_untied_by_hand_as_it_is():
    """The review's finding: the load hook tied by the config alone, so restoring a checkpoint of
    a model whose output layer was untied by hand threw the loaded output matrix away."""
    torch.manual_seed(0)
    model = DecoderOnlyTransformer(TINY)
    model.output.weight = nn.Parameter(model.output.weight.detach() * 2)  # untied by hand
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert model.output.weight is not model.embed.token.lookup.weight
    assert torch.equal(model.output.weight, state["output.weight"])


@pytest.mark.parametrize("assign", [False, True])
def test_a_state_dict_holding_only_the_output_matrix_keeps_it_tied(assign):
    """strict=False with only ``output.weight`` (a saver that keeps one name per shared tensor):
    with assign=True the hook tied the output back to the old table, losing the loaded matrix."""
    torch.manual_seed(0)
    model = DecoderOnlyTransformer(TINY)
    loaded = torch.randn_like(model.output.weight)
    model.load_state_dict({"output.weight": loaded}, strict=False, assign=assign)
    assert model.output.weight is model.embed.token.lookup.weight
    assert torch.equal(model.output.weight, loaded)


def test_state_dicts_round_trip_strictly_through_torch_save_with_weights_only():
    torch.manual_seed(0)
    for build in (Transformer, DecoderOnlyTransformer, EncoderOnlyTransformer):
        original = build(TINY).eval()
        copy_ = build(TINY).eval()
        copy_.load_state_dict(_saved_and_loaded(original.state_dict()), strict=True)
        ids = _ids(2, 5)
        args = (ids, ids) if build is Transformer else (ids,)
        assert torch.equal(copy_(*args), original(*args))
        deep = copy.deepcopy(original)
        assert torch.equal(deep(*args), original(*args))
        pickled = pickle.loads(pickle.dumps(original))  # with its load_state_dict hook
        assert torch.equal(pickled(*args), original(*args))


def test_lib_layers_loaded_from_pytorch_round_trip_their_state_dicts_strictly():
    for kind in ("mha", "encoder", "decoder"):
        ref, mine = _torch_and_lib(kind)
        other = copy.deepcopy(mine)
        for p in other.parameters():
            nn.init.zeros_(p)
        other.load_state_dict(_saved_and_loaded(mine.state_dict()), strict=True)
        for (name, a), b in zip(mine.state_dict().items(), other.state_dict().values()):
            assert torch.equal(a, b), f"{kind}: {name}"


# ---------------------------------------------------------------- dtypes and strided inputs


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_a_gpt_in_another_dtype_steps_its_cache_as_its_forward(dtype, positional):
    torch.manual_seed(0)
    model = DecoderOnlyTransformer(TINY.replace(positional=positional)).to(dtype).eval()
    ids = _ids(2, 9)
    ids[0, 3] = TINY.pad_id
    with torch.no_grad():
        whole = model(ids)
    cache = model.new_cache()
    parts = [model.step(ids[:, :4], cache), model.step(ids[:, 4:5], cache), model.step(ids[:, 5:], cache)]
    assert whole.dtype == dtype
    tol = {torch.float64: 1e-10, torch.bfloat16: 0.05}[dtype]
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=tol, rtol=tol)


def test_float64_seq2seq_equals_nn_transformer_at_batch_one_and_length_one():
    torch.manual_seed(0)
    config = TINY.replace(num_decoder_layers=1)
    model = Transformer(config).double().eval()
    core = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True, dtype=torch.float64).eval()
    model.load_from_torch(core)
    for ls, lt in ((1, 1), (1, 4), (5, 1)):
        src, trg = _ids(1, ls, seed=ls), _ids(1, lt, seed=lt + 5)
        hidden = core(model.src_embed(src), model.trg_embed(trg), tgt_mask=to_blocked(causal_mask(lt)))
        torch.testing.assert_close(model(src, trg), model.output(hidden), atol=1e-12, rtol=1e-10)


def test_strided_expanded_and_int32_ids_give_the_logits_of_contiguous_int64_ones():
    torch.manual_seed(0)
    model = DecoderOnlyTransformer(TINY).eval()
    ids = _ids(6, 2).t()  # (2, 6), not contiguous
    want = model(ids.contiguous())
    assert torch.equal(model(ids), want)
    assert torch.equal(model(ids.int()), want)
    one = _ids(1, 6)
    torch.testing.assert_close(model(one.expand(3, 6)), model(one).expand(3, 6, -1))


def test_attention_over_non_contiguous_float64_inputs_with_a_fully_padded_sentence():
    """PyTorch's module gives NaN for the padded sentence; its kernel (and lib) zero weights."""
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    mine = MultiHeadAttention(8, 2).double().load_from_torch(ref)
    x = torch.randn(3, 8, 5, dtype=torch.float64).transpose(1, 2)  # (3, 5, 8), strided
    padded = torch.zeros(3, 5, dtype=torch.bool)
    padded[1] = True
    padded[2, 3:] = True
    out, weights = mine(x, x, x, ~padded[:, None, None, :], need_weights=True)
    want, want_weights = ref(x, x, x, key_padding_mask=padded, average_attn_weights=False)
    for row in (0, 2):
        torch.testing.assert_close(out[row], want[row])
        torch.testing.assert_close(weights[row], want_weights[row])
    assert want[1].isnan().all() and torch.equal(weights[1], torch.zeros_like(weights[1]))


def test_no_grad_and_inference_mode_give_the_same_logits_and_weights():
    torch.manual_seed(0)
    model = Transformer(TINY).eval()
    src, trg = _ids(2, 5), _ids(2, 4, seed=1)
    src[1, 2:] = TINY.pad_id
    with torch.no_grad():
        a = model(src, trg, need_weights=True)
        a_weights = model.attention_weights()
    with torch.inference_mode():
        b = model(src, trg, need_weights=True)
        b_weights = model.attention_weights()
    assert torch.equal(a, b)
    for kind in a_weights:
        for x, y in zip(a_weights[kind], b_weights[kind]):
            assert torch.equal(x, y)
    torch.testing.assert_close(model(src, trg), a, atol=1e-6, rtol=1e-5)  # with gradients


# ---------------------------------------------------------------- generation's edges


def _random_gpt(seed):
    rng = random.Random(seed)
    heads = rng.choice([1, 2, 4])
    config = TINY.replace(
        d_model=heads * rng.choice([2, 4, 8]),
        num_heads=heads,
        num_decoder_layers=rng.randint(1, 3),
        positional=rng.choice(["learned", "sinusoidal"]),
        norm_first=rng.choice([False, True]),
        tie_embeddings=rng.choice([False, True]),
        max_len=rng.randint(4, 12),
    )
    torch.manual_seed(seed)
    return DecoderOnlyTransformer(config).eval(), rng


@pytest.mark.parametrize("seed", range(6))
def test_cached_generation_writes_what_the_whole_prefix_writes(seed):
    model, rng = _random_gpt(seed)
    cached, whole = generation.cached_logits_fn(model), generation.decoder_logits_fn(model)
    length = rng.randint(1, model.config.max_len - 1)
    prompt = _ids(length, seed=seed)
    new = model.config.max_len - length  # up to the last position
    options = rng.choice(
        [
            {},
            {"top_k": 11},
            {"top_p": 1.0},
            {"top_p": 1e-9},
            {"temperature": 1e-30},
            {"top_k": 2, "top_p": 0.5},
        ]
    )
    for strategy in ("greedy", "sample"):
        a = generation.generate(cached, prompt, max_new_tokens=new, strategy=strategy, seed=seed, **options)
        b = generation.generate(whole, prompt, max_new_tokens=new, strategy=strategy, seed=seed, **options)
        assert torch.equal(a.ids, b.ids), options
    batch = _ids(3, length, seed=seed + 1)
    assert torch.equal(
        generation.greedy_decode(cached, batch, max_new_tokens=new, eos_id=3),
        generation.greedy_decode(whole, batch, max_new_tokens=new, eos_id=3),
    )


def test_generation_stops_at_eos_and_refuses_what_cannot_be_generated_by_name():
    model, _ = _random_gpt(0)
    fn = generation.cached_logits_fn(model)
    prompt = torch.tensor([1, 2])
    first = int(generation.generate(fn, prompt, max_new_tokens=1).ids[-1])
    stopped = generation.generate(fn, prompt, max_new_tokens=5, eos_id=first)
    assert stopped.ids.tolist() == [1, 2, first] and len(stopped.steps) == 1
    full = _ids(model.config.max_len)
    with pytest.raises(ValueError, match=r"max_new_tokens must be at most 0"):
        generation.generate(fn, full, max_new_tokens=1)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive int"):
        generation.generate(fn, prompt, max_new_tokens=0)
    with pytest.raises(ValueError, match=r"top_k must be at most the vocabulary size \(11\)"):
        generation.generate(fn, prompt, max_new_tokens=1, strategy="sample", top_k=12)


def test_tiny_top_p_and_temperature_keep_the_likeliest_tokens_ties_included():
    logits = torch.tensor([[1.0, 1.0, 0.5], [0.0, 2.0, 1.0]])
    assert sampling.next_token_probs(logits, top_p=1e-12).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    cold = sampling.next_token_probs(logits, temperature=1e-40)
    assert cold.tolist() == [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]
    torch.testing.assert_close(
        sampling.next_token_probs(logits, top_k=3, top_p=1.0), torch.softmax(logits, dim=-1)
    )
