"""KV cache: the cached step computes what the whole-prefix forward computes, and writes the same tokens.

Equivalence over pre- and post-norm, learned and sinusoidal positions, several prompts
(padding included); the cache's shapes and contents; its errors; and the uncached
forward's causal fast path (no mask tensor when there is no padding).
"""

import pytest
import torch
from transformer_course import generation as gen
from transformer_course.attention import scaled_dot_product_attention
from transformer_course.kv_cache import KVCache
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding

V, MAX_LEN = 23, 40
DESIGNS = [(nf, pos) for nf in (True, False) for pos in ("learned", "sinusoidal")]
PROMPTS = [torch.tensor([3]), torch.tensor([5, 9, 2, 7]), torch.tensor([1, 22, 22, 4, 8, 15, 6, 2, 11])]


def gpt(norm_first=True, positional="learned", *, layers=2, seed=0, peaky=True) -> DecoderOnlyTransformer:
    torch.manual_seed(seed)
    config = TransformerConfig(
        vocab_size=V,
        d_model=24,
        num_heads=3,
        num_decoder_layers=layers,
        d_ff=48,
        dropout=0.0,
        max_len=MAX_LEN,
        norm_first=norm_first,
        positional=positional,
        activation="gelu",
    )
    model = DecoderOnlyTransformer(config).eval()
    if peaky:  # a peakier distribution than at initialisation, as a trained model has
        with torch.no_grad():
            model.output.weight.mul_(3)
    return model


def cached_logits(model, ids, prompt_len):
    """Logits (B, L, V) from a prefill of ``prompt_len`` tokens, then one token per step."""
    cache = model.new_cache()
    parts = [model.step(ids[:, :prompt_len], cache)]
    parts += [model.step(ids[:, i : i + 1], cache) for i in range(prompt_len, ids.shape[1])]
    return torch.cat(parts, dim=1), cache


@pytest.mark.parametrize("norm_first, positional", DESIGNS)
def test_cached_steps_give_the_logits_of_the_whole_sequence(norm_first, positional):
    model = gpt(norm_first, positional, peaky=False)  # logits of a few units: 1e-5 ≫ float32 rounding
    torch.manual_seed(1)
    ids = torch.randint(1, V, (3, 30))
    ids[1, 4] = ids[2, 17] = model.config.pad_id  # padding, in the prompt and after it
    with torch.no_grad():
        want = model(ids)
    for prompt_len in (1, 6, 30):
        got, cache = cached_logits(model, ids, prompt_len)
        assert got.shape == want.shape == (3, 30, V)
        assert (got - want).abs().max() <= 1e-5
        assert cache.length == 30 and torch.equal(cache.ids, ids)


@pytest.mark.parametrize("norm_first, positional", DESIGNS)
@pytest.mark.parametrize("prompt", PROMPTS, ids=lambda p: f"prompt{len(p)}")
def test_generate_writes_the_same_tokens_with_the_cache(norm_first, positional, prompt):
    model = gpt(norm_first, positional)
    runs = [dict(), dict(strategy="sample", temperature=1.3, seed=3)]
    runs += [dict(strategy="sample", temperature=0.8, top_k=6, top_p=0.9, seed=s) for s in (0, 11)]
    for options in runs:
        plain = gen.generate(gen.decoder_logits_fn(model), prompt, max_new_tokens=25, **options)
        cached = gen.generate(gen.cached_logits_fn(model), prompt, max_new_tokens=25, **options)
        assert torch.equal(plain.ids, cached.ids), options
        assert (plain.probs() - cached.probs()).abs().max() <= 1e-5


def test_batched_greedy_decoding_with_eos_and_padding_matches():
    model = gpt()
    prompts = torch.tensor([[2, 5, 7], [9, 9, 1], [4, 0, 3]])  # row 2 holds a pad id
    plain = gen.greedy_decode(gen.decoder_logits_fn(model), prompts, max_new_tokens=12)
    eos = int(plain[0, 5])  # a token row 0 writes: it stops there, and gets padding afterwards
    want = gen.greedy_decode(gen.decoder_logits_fn(model), prompts, max_new_tokens=12, eos_id=eos)
    got = gen.greedy_decode(gen.cached_logits_fn(model), prompts, max_new_tokens=12, eos_id=eos)
    assert torch.equal(want, got)


def test_the_cache_holds_every_layers_keys_and_values():
    model = gpt(layers=3)
    c = model.config
    ids = torch.randint(1, V, (2, 7))
    cache = model.new_cache()
    assert cache.length == 0 and cache.keys == [None] * 3 and "0 of 40" in repr(cache)
    logits = model.step(ids[:, :5], cache)
    assert logits.shape == (2, 5, V)
    logits = model.step(ids[:, 5:6], cache)
    assert logits.shape == (2, 1, V) and cache.length == 6
    for k, v in zip(cache.keys, cache.values):
        assert k.shape == v.shape == (2, c.num_heads, 6, c.d_head)  # (B, h, t, d_head)
    assert cache.numbers() == 2 * 3 * 2 * 6 * c.d_model
    # Layer 0's keys are the key projection of the first normed embeddings, split into heads.
    block = model.blocks.layers[0]
    with torch.no_grad():
        x = model.embed(ids[:, :6])
        keys = block.self_attn.split_heads(block.self_attn.k_proj(block.norm1(x)))
    assert torch.allclose(cache.keys[0], keys, atol=1e-6)


def test_the_new_tokens_attention_is_the_last_row_of_the_whole_sequences():
    model = gpt()
    ids = torch.randint(1, V, (1, 9))
    with torch.no_grad():
        model(ids, need_weights=True)
    full = model.attention_weights()["decoder_self"]  # per layer (1, h, 9, 9)
    cache = model.new_cache()
    model.step(ids[:, :8], cache)
    model.step(ids[:, 8:], cache, need_weights=True)
    for mine, whole in zip(model.attention_weights()["decoder_self"], full):
        assert mine.shape == (1, 3, 1, 9)  # (B, h, one new token, t + 1 keys)
        assert torch.allclose(mine.sum(-1), torch.ones(1, 3, 1))
        assert torch.allclose(mine[:, :, 0], whole[:, :, -1], atol=1e-6)
    fn = gen.cached_logits_fn(model, need_weights=True)
    with pytest.raises(ValueError, match="call the function on a prefix first"):
        fn.last_attention()
    fn(ids)
    with torch.no_grad():
        model(ids[:, :3], need_weights=True)  # another run of the model does not change fn's record
    last = fn.last_attention()
    assert len(last) == 2 and last[0].shape == (1, 3, 9)
    assert torch.allclose(last[1], full[1][:, :, -1], atol=1e-6)


def test_a_prefix_that_does_not_continue_the_cache_starts_a_new_one():
    model = gpt()
    fn = gen.cached_logits_fn(model)
    a, b = torch.tensor([[4, 5, 6, 7]]), torch.tensor([[4, 5, 9]])
    fn(a)
    assert fn.cache.length == 4
    with torch.no_grad():
        assert torch.allclose(fn(b), model(b), atol=1e-5)
        assert fn.cache.length == 3
        assert torch.allclose(fn(torch.cat([b, b], 0)), model(torch.cat([b, b], 0)), atol=1e-5)
        assert fn(torch.cat([b, b], 0)).shape == (2, 3, V)  # same prefix again: nothing new to run


def test_the_cache_refuses_to_grow_past_max_len_and_stays_as_it_was():
    model = gpt()
    cache = model.new_cache()
    model.step(torch.randint(1, V, (1, MAX_LEN - 1)), cache)
    model.step(torch.tensor([[3]]), cache)
    with pytest.raises(
        ValueError, match=r"ids adds 1 positions to a cache of 40: 41 would exceed max_len \(40\)"
    ):
        model.step(torch.tensor([[3]]), cache)
    assert cache.length == MAX_LEN and cache.keys[0].shape[2] == MAX_LEN
    with pytest.raises(ValueError, match="max_len"):
        model.step(torch.randint(1, V, (1, 5)), model.new_cache().__class__(2, 4))


def test_cache_errors_name_the_argument():
    model = gpt()
    cache = model.new_cache()
    model.step(torch.tensor([[1, 2], [3, 4]]), cache)
    with pytest.raises(
        ValueError, match=r"ids must have size 2 in dimension 0 \(the batch size of the cache\)"
    ):
        model.step(torch.tensor([[5]]), cache)
    with pytest.raises(ValueError, match="ids must hold integer ids"):
        model.step(torch.tensor([[5.0], [6.0]]), cache)
    with pytest.raises(ValueError, match="ids must hold ids in"):
        model.step(torch.tensor([[V], [1]]), cache)
    assert cache.length == 2  # refused calls changed nothing
    with pytest.raises(ValueError, match="cache must be a KVCache"):
        model.step(torch.tensor([[5]]), {"keys": []})
    with pytest.raises(ValueError, match="cache must come from this model"):
        model.step(torch.tensor([[5]]), KVCache(5, MAX_LEN))  # made for 5 layers
    other = gpt(layers=2)
    other_cache = KVCache(2, MAX_LEN)
    wide = DecoderOnlyTransformer(other.config.replace(d_model=30)).eval()
    wide.step(torch.tensor([[5]]), other_cache)  # filled by a model with heads of another width
    with pytest.raises(ValueError, match="cache must come from this model"):
        model.step(torch.tensor([[5]]), other_cache)
    moved = model.new_cache()
    moved.ids = torch.zeros(1, 2, dtype=torch.long, device="meta")  # as if filled on another device
    with pytest.raises(ValueError, match="ids is on cpu, the cache on meta"):
        model.step(torch.tensor([[5]]), moved)
    with pytest.raises(ValueError, match="num_layers"):
        KVCache(0, 8)
    with pytest.raises(ValueError, match="model must be a DecoderOnlyTransformer"):
        gen.cached_logits_fn(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="need_weights must be True"):
        fn = gen.cached_logits_fn(model)
        fn(torch.tensor([[1, 2]]))
        fn.last_attention()
    with pytest.raises(ValueError, match="prefix"):
        gen.cached_logits_fn(model)(torch.tensor([1, 2]))


def test_step_keeps_no_gradients():
    model = gpt().train()
    cache = model.new_cache()
    logits = model.step(torch.tensor([[1, 2, 3]]), cache)
    assert not logits.requires_grad and not cache.keys[0].requires_grad


# The uncached forward: without padding the mask is only causal, and PyTorch's kernel is told
# so (is_causal) instead of being given a mask. It must compute what the explicit mask does.


@pytest.mark.parametrize("need_weights", [False, True])
def test_causal_attention_equals_the_explicit_causal_mask(need_weights):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 5)
    tril = torch.ones(6, 6, dtype=torch.bool).tril()
    want, want_w = scaled_dot_product_attention(q, k, v, tril)
    got, got_w = scaled_dot_product_attention(q, k, v, causal=True, need_weights=need_weights)
    assert torch.allclose(got, want, atol=1e-6)
    if need_weights:
        assert torch.allclose(got_w, want_w, atol=1e-6) and got_w[..., 0, 1:].abs().max() == 0
    keep = torch.tensor([True, True, False, True, True, True])  # and a padding mask on top
    both, _ = scaled_dot_product_attention(q, k, v, keep, causal=True, need_weights=need_weights)
    assert torch.allclose(both, scaled_dot_product_attention(q, k, v, tril & keep)[0], atol=1e-6)
    with pytest.raises(ValueError, match="causal"):
        scaled_dot_product_attention(q, k, v, causal="yes")


@pytest.mark.parametrize("norm_first", [True, False])
def test_the_causal_fast_path_matches_the_masked_forward_and_its_gradients(norm_first):
    model = gpt(norm_first).train()
    ids = torch.randint(1, V, (3, 12))  # no padding: forward takes the fast path
    fast = model(ids)
    masked = model.output(model.blocks(model.embed(ids), model.causal_padding_mask(ids)))
    assert torch.allclose(fast, masked, atol=1e-5)
    grad_fast = torch.autograd.grad(fast.square().mean(), model.output.weight)[0]
    grad_masked = torch.autograd.grad(masked.square().mean(), model.output.weight)[0]
    assert torch.allclose(grad_fast, grad_masked, atol=1e-6)
    model(ids, need_weights=True)
    for w in model.attention_weights()["decoder_self"]:
        assert w.shape == (3, 3, 12, 12) and w.triu(1).abs().max() == 0


def test_positions_start_where_the_cache_ends():
    x = torch.randn(2, 3, 8)
    sinus = SinusoidalPositionalEncoding(8, max_len=10)
    assert torch.allclose(sinus(x, start=4), x + sinus.pe[4:7])
    learned = LearnedPositionalEmbedding(8, max_len=10)
    with torch.no_grad():
        assert torch.allclose(learned(x, start=7), x + learned.pe[7:10])
    with pytest.raises(ValueError, match="from position 8 but max_len is 10"):
        learned(x, start=8)
    with pytest.raises(ValueError, match="start"):
        sinus(x, start=-1)


def test_append_grows_one_layer_and_checks_what_it_is_given():
    cache = KVCache(2, max_len=8)
    k, v = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    first, _ = cache.append(1, k, v)
    assert torch.equal(first, k) and cache.keys[0] is None
    keys, values = cache.append(1, torch.ones(1, 2, 1, 4), torch.zeros(1, 2, 1, 4))
    assert keys.shape == values.shape == (1, 2, 4, 4)  # (B, h, t + T, d_head)
    assert torch.equal(keys[:, :, :3], k) and torch.equal(values[:, :, 3], torch.zeros(1, 2, 4))
    assert keys.data_ptr() == first.data_ptr()  # written in place: the 3 cached positions were not copied
    with pytest.raises(ValueError, match=r"k adds 5 positions to a cache of 4: 9 would exceed max_len \(8\)"):
        cache.append(1, torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4))
    assert cache.keys[1].shape[2] == 4  # refused: the cache is as it was
    with pytest.raises(ValueError, match="layer must be an int in \\[0, 2\\)"):
        cache.append(2, k, v)
    with pytest.raises(ValueError, match="v must have the shape of k"):
        cache.append(0, k, v[:, :1])
    with pytest.raises(ValueError, match="k must be \\(B, h, T, d_head\\) with the cached"):
        cache.append(1, torch.randn(1, 3, 1, 4), torch.randn(1, 3, 1, 4))
    with pytest.raises(ValueError, match="k must be 4-D"):
        cache.append(0, torch.randn(2, 3, 4), torch.randn(2, 3, 4))


def test_the_cached_paths_entry_points_check_what_the_layers_inside_trust():
    # model.step checks once and the layers inside skip their checks; called directly, each
    # layer's forward_cached (and forward) must still refuse bad input, naming the argument.
    model = gpt()
    stack, layer = model.blocks, model.blocks.layers[0]
    attn = layer.self_attn
    x = torch.randn(1, 2, 24)  # (B, T, d_model)
    cache = model.new_cache()
    with pytest.raises(ValueError, match="cache must be a KVCache"):
        attn.forward_cached(x, {"keys": []}, 0)
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 2\)"):
        layer.forward_cached(x, cache, 2)
    with pytest.raises(ValueError, match="cache must be a KVCache for 2 layers, got 3 layers"):
        stack.forward_cached(x, KVCache(3, MAX_LEN))
    with pytest.raises(ValueError, match="x must have size 24 in dimension -1"):
        stack.forward_cached(torch.randn(1, 2, 5), cache)
    with torch.no_grad():
        stack.forward_cached(x, cache)  # each layer now holds t = 2 positions
    with pytest.raises(
        ValueError, match=r"cache must hold keys \(3, 3, 2, 8\) in layer 0, got \(1, 3, 2, 8\)"
    ):
        attn.forward_cached(torch.randn(3, 1, 24), cache, 0)  # another batch size
    with pytest.raises(ValueError, match="mask of shape"):
        layer.forward_cached(x, cache, 0, torch.ones(1, 1, 2, 3, dtype=torch.bool))  # t + T = 4 keys
    with pytest.raises(ValueError, match=r"x adds 39 positions to a cache of 2: 41 would exceed max_len"):
        attn.forward_cached(torch.randn(1, 39, 24), cache, 1)
    assert [k.shape[2] for k in cache.keys] == [2, 2]  # every refused call left the cache as it was
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        layer(x, torch.ones(2, 2))
    with pytest.raises(ValueError, match="causal must be True or False"):
        stack(x, causal="yes")
