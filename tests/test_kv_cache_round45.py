"""Round 45: the cached step keeps each layer's W_Q, W_K, W_V stacked for the cache's life.

Stacking the three (d, d) matrices again at every generated token took a tenth of a cached
step of bench's GPT. Under inference_mode (where cached_logits_fn runs its steps) the cache
now keeps the stacked weights of each layer and makes them again only when a weight changed
(its storage or version counter: a load, an in-place write) or an optimiser stepped (a fused
one bumps no version counter); never in a copy of the cache. model.step, outside it, stacks
them at every step as before.
"""

import copy
import pickle

import torch
from test_kv_cache import V, gpt
from transformer_course import attention
from transformer_course import generation as gen


def _counting_stack(monkeypatch) -> list:
    """Count the calls of attention._stacked (the attention reads it from the module)."""
    calls, real = [], attention._stacked

    def counted(*projections):
        calls.append(projections)
        return real(*projections)

    monkeypatch.setattr(attention, "_stacked", counted)
    return calls


def _prefilled(model, length=5):
    cache = model.new_cache()
    torch.manual_seed(2)
    with torch.inference_mode():
        model.step(torch.randint(1, V, (2, length)), cache)
    return cache


def _step(model, ids, cache):
    with torch.inference_mode():
        return model.step(ids, cache)


def test_each_layer_stacks_its_weights_once_per_cache(monkeypatch):
    model = gpt(layers=2)
    calls = _counting_stack(monkeypatch)
    cache = _prefilled(model)
    for token in (4, 9, 1):
        _step(model, torch.full((2, 1), token), cache)
    assert len(calls) == 2  # one per layer, at the prompt: none for the three tokens after it
    _step(model, torch.full((2, 3), 5), model.new_cache())  # a new cache stacks them again
    assert len(calls) == 4
    model.step(torch.full((2, 1), 2), cache)  # outside inference_mode: stacked afresh
    assert len(calls) == 6


def test_a_weight_changed_in_place_is_stacked_again():
    model = gpt(layers=2)
    cache = _prefilled(model)
    fresh = copy.deepcopy(cache)  # the same keys, and no stacked weights: they are made anew
    with torch.no_grad():  # as an optimiser's step writes: the version counter moves
        model.blocks.layers[1].self_attn.k_proj.weight.mul_(-2)
        model.blocks.layers[0].self_attn.v_proj.bias.add_(1)
    token = torch.tensor([[3], [8]])
    got, want = _step(model, token, cache), _step(model, token, fresh)
    assert torch.equal(got, want)
    assert torch.equal(cache.keys[1], fresh.keys[1])
    assert torch.equal(cache.values[0], fresh.values[0])


def test_a_weight_replaced_is_stacked_again():
    model = gpt(layers=1)
    cache = _prefilled(model)
    fresh = copy.deepcopy(cache)
    proj = model.blocks.layers[0].self_attn.q_proj
    proj.weight = torch.nn.Parameter(proj.weight.detach() * 3)  # new storage
    token = torch.tensor([[6], [2]])
    assert torch.equal(_step(model, token, cache), _step(model, token, fresh))


def test_gradients_through_the_cache_reach_every_projection():
    model = gpt(layers=1)
    layer = model.blocks.layers[0]
    cache = model.new_cache()
    x = torch.randn(2, 4, 24)
    with torch.no_grad():
        layer.forward_cached(x[:, :3], cache, 0)  # stacked and kept, without gradients
    layer.forward_cached(x[:, 3:], cache, 0).sum().backward()  # with them: stacked in the graph
    attn = layer.self_attn
    for proj in (attn.q_proj, attn.k_proj, attn.v_proj):
        assert proj.weight.grad is not None and proj.weight.grad.abs().sum() > 0


def test_copies_and_pickles_of_a_cache_carry_no_stacked_weights():
    model = gpt(layers=2)
    cache = _prefilled(model)
    assert all(kept is not None for kept in cache._weights)
    assert copy.deepcopy(cache)._weights == [None, None]
    loaded = pickle.loads(pickle.dumps(cache))
    assert loaded._weights == [None, None]
    assert torch.equal(loaded.keys[0], cache.keys[0])


def test_cached_generation_still_writes_the_uncached_tokens():
    model = gpt(layers=2)
    prompt = torch.tensor([5, 9, 2, 7])
    cached = gen.generate(gen.cached_logits_fn(model), prompt, max_new_tokens=20)
    plain = gen.generate(gen.decoder_logits_fn(model), prompt, max_new_tokens=20)
    assert torch.equal(cached.ids, plain.ids)


# ------------------------------------------- cached_logits_fn steps under inference_mode


def test_the_cached_logits_are_ordinary_tensors():
    """The steps run under torch.inference_mode(); what the caller gets is copied out of it: it
    can be written in place and used in a graph (an inference tensor refuses both)."""
    model = gpt(layers=2)
    fn = gen.cached_logits_fn(model, need_weights=True)
    prefix = torch.tensor([[5, 9, 2, 7]])
    for t in (4, 5):
        prefix = torch.cat([prefix, torch.tensor([[3]])], dim=1) if t == 5 else prefix
        logits = fn(prefix)
        assert not logits.is_inference()
        logits[:, -1, 0] = 0.0  # in place, as a caller masking a token would
        weight = torch.ones(V, requires_grad=True)
        (logits.detach() * weight).sum().backward()
        assert weight.grad is not None
        for row in fn.last_attention():
            assert not row.is_inference()
            row.mul_(1.0)


def test_a_cache_filled_by_cached_logits_fn_continues_outside_it():
    model = gpt(layers=2)
    fn = gen.cached_logits_fn(model)
    prefix = torch.tensor([[5, 9, 2, 7, 1]])
    want = model(torch.cat([prefix, torch.tensor([[4]])], dim=1))[:, -1:]
    fn(prefix)
    got = model.step(torch.tensor([[4]]), fn.cache)  # eager, under no_grad: the cache is copied once
    assert not got.is_inference()
    assert torch.allclose(got, want, atol=1e-5)


def test_a_model_whose_weights_a_cached_step_kept_can_be_saved_and_copied(tmp_path):
    model = gpt(layers=2)
    fn = gen.cached_logits_fn(model, need_weights=True)
    fn(torch.tensor([[5, 9, 2]]))
    copy.deepcopy(model)
    torch.save(model, tmp_path / "model.pt")
    assert torch.equal(
        torch.load(tmp_path / "model.pt", weights_only=False).output.weight, model.output.weight
    )


def test_a_fused_optimisers_step_is_seen():
    """AdamW(fused=True) (the course's gpt_optimiser) writes the weights without bumping their
    version counters: a cached_logits_fn kept across its step still used the old cache (0.5
    apart in its logits), and a cache's stacked weights were the old ones."""
    model = gpt(layers=2)
    fn = gen.cached_logits_fn(model)
    prefix = torch.tensor([[5, 9, 2, 7]])
    fn(prefix)
    cache = _prefilled(model)
    fresh = copy.deepcopy(cache)
    optimiser = torch.optim.AdamW(model.parameters(), lr=0.1, fused=True)
    model(prefix).sum().backward()
    versions = [p._version for p in model.parameters()]
    optimiser.step()
    assert [p._version for p in model.parameters()] == versions  # what the check cannot see
    with torch.no_grad():
        want = model(prefix)
    torch.testing.assert_close(fn(prefix), want)
    token = torch.tensor([[3], [8]])
    assert torch.equal(_step(model, token, cache), _step(model, token, fresh))


def test_model_step_outside_inference_mode_sees_a_write_through_data():
    """model.step stacks the weights afresh: a write through .data, which no version counter
    records, still changes the next query (the cached keys were made before it)."""
    model = gpt(layers=1)
    cache, fresh = model.new_cache(), model.new_cache()
    ids = torch.tensor([[5, 9, 2, 7]])
    model.step(ids, cache)
    model.step(ids, fresh)
    model.blocks.layers[0].self_attn.q_proj.weight.data.mul_(3)
    token = torch.tensor([[4]])
    got = model.step(token, cache)
    want = model(torch.cat([ids, token], dim=1))[:, -1:]
    torch.testing.assert_close(got, want)


def test_attention_kept_by_a_cached_step_on_the_model_is_ordinary():
    """With need_weights, the model's layers keep the new token's attention: copied out of
    inference_mode, as last_attention() is."""
    model = gpt(layers=2)
    fn = gen.cached_logits_fn(model, need_weights=True)
    fn(torch.tensor([[5, 9, 2]]))
    fn(torch.tensor([[5, 9, 2, 4]]))
    for weights in model.attention_weights()["decoder_self"]:
        assert weights is not None and not weights.is_inference()
        weights.mul_(1.0)


def test_a_model_made_under_inference_mode_gets_no_stale_cache():
    """Its weights keep no version counter: a load into them under inference_mode changed
    nothing cached_logits_fn reads, and it wrote with the old keys (2.9 apart)."""
    with torch.inference_mode():
        model, other = gpt(layers=2, seed=0), gpt(layers=2, seed=1)
        fn = gen.cached_logits_fn(model)
        ids = torch.tensor([[5, 9, 2, 7]])
        fn(ids)
        model.load_state_dict(other.state_dict())
        torch.testing.assert_close(fn(ids), model(ids))
