"""Chapter 09's lib against reference maths, on random small GPTs and seeded inputs.

- generation: the KV-cached logits function writes exactly the tokens of the uncached one
  (greedy and sampled, batch 1 and more, prompts of 1 … max_len - 1 tokens, up to max_len
  and one past it, <eos>);
- sampling: temperature, top-k and top-p against straightforward re-implementations (top-p
  as Hugging Face's ``TopPLogitsWarper``), and the draws' frequencies against the
  distribution they come from;
- stories: the recogniser against the sampler, log p(story) against the chain of exact
  next-token distributions, the entropy floor against a Monte-Carlo estimate, round trips
  through the tokenizer and the ids;
- lm_training's losses against ``F.cross_entropy`` position by position;
- pronoun_heads' readings on attention patterns written by hand.
"""

import math
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import generation as gen
from transformer_course import lm_training as lm
from transformer_course import pronoun_heads as ph
from transformer_course import sampling
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.stories import StoryGenerator, decode, encode, story_vocab
from transformer_course.tokenizer import EOS

CONFIGS = 6  # random GPTs per test


def random_gpt(seed: int, *, vocab: int | None = None) -> DecoderOnlyTransformer:
    """A small GPT of random sizes and design, seeded, with peaky logits (as a trained one)."""
    rng = random.Random(seed)
    heads, d_head = rng.randint(1, 3), rng.choice((2, 4, 6))
    config = TransformerConfig(
        vocab_size=vocab or rng.randint(5, 30),
        d_model=heads * d_head,
        num_heads=heads,
        num_decoder_layers=rng.randint(1, 3),
        d_ff=rng.choice((8, 16, 32)),
        dropout=0.0,
        max_len=rng.randint(4, 16),
        norm_first=rng.random() < 0.5,
        positional=rng.choice(("learned", "sinusoidal")),
        activation=rng.choice(("relu", "gelu")),
    )
    torch.manual_seed(seed)
    model = DecoderOnlyTransformer(config).eval()
    with torch.no_grad():
        model.output.weight.mul_(3)
    return model


def prompts(model, rng: random.Random) -> list[torch.Tensor]:
    """Prompts of 1 token, of max_len - 1, and one in between (padding id 0 included)."""
    c = model.config
    lengths = sorted({1, c.max_len - 1, rng.randint(1, c.max_len - 1)})
    out = [torch.tensor([rng.randrange(c.vocab_size) for _ in range(n)]) for n in lengths]
    return [*out, torch.tensor([c.pad_id]), torch.tensor([c.pad_id, 3, c.pad_id])]  # padding first


# --- generation: the cache changes nothing ---


@pytest.mark.parametrize("seed", range(CONFIGS))
def test_cached_generation_writes_the_uncached_tokens(seed):
    model, rng = random_gpt(seed), random.Random(100 + seed)
    for prompt in prompts(model, rng):
        room = model.config.max_len - len(prompt)  # exactly up to max_len
        for knobs in ({}, {"strategy": "sample", "seed": seed, "temperature": 1.3, "top_k": 4, "top_p": 0.9}):
            plain = gen.generate(gen.decoder_logits_fn(model), prompt, max_new_tokens=room, **knobs)
            cached = gen.generate(gen.cached_logits_fn(model), prompt, max_new_tokens=room, **knobs)
            assert torch.equal(plain.ids, cached.ids) and len(plain.ids) == model.config.max_len
            torch.testing.assert_close(plain.probs(), cached.probs(), atol=1e-5, rtol=1e-4)
            for fn in (gen.decoder_logits_fn(model), gen.cached_logits_fn(model)):  # one past: refused
                with pytest.raises(ValueError, match=r"max_new_tokens must be at most"):
                    gen.generate(fn, prompt, max_new_tokens=room + 1, **knobs)


@pytest.mark.parametrize("seed", range(CONFIGS))
def test_cached_generation_stops_at_eos_as_the_uncached_one_does(seed):
    model = random_gpt(seed)
    prompt = torch.tensor([1])
    ahead = gen.generate(gen.decoder_logits_fn(model), prompt, max_new_tokens=model.config.max_len - 1)
    eos = int(ahead.new_ids[len(ahead.new_ids) // 2])  # a token it writes: it stops there
    for fn in (gen.decoder_logits_fn(model), gen.cached_logits_fn(model)):
        out = gen.generate(fn, prompt, max_new_tokens=model.config.max_len - 1, eos_id=eos)
        first = ahead.new_ids.tolist().index(eos)
        assert out.new_ids.tolist() == ahead.new_ids.tolist()[: first + 1]


@pytest.mark.parametrize("seed", range(CONFIGS))
def test_batched_cached_decoding_matches_uncached(seed):
    model, rng = random_gpt(seed), random.Random(200 + seed)
    c = model.config
    t0 = rng.randint(1, c.max_len - 1)
    prompt = torch.randint(0, c.vocab_size, (3, t0), generator=torch.Generator().manual_seed(seed))
    room = c.max_len - t0
    plain = gen.greedy_decode(gen.decoder_logits_fn(model), prompt, max_new_tokens=room, eos_id=2, pad_id=0)
    cached = gen.greedy_decode(gen.cached_logits_fn(model), prompt, max_new_tokens=room, eos_id=2, pad_id=0)
    assert torch.equal(plain, cached)
    # sampled, batch of 3, one generator each way: the same draws from the same distributions
    for fn_a, fn_b in [(gen.decoder_logits_fn(model), gen.cached_logits_fn(model))]:
        ids_a, ids_b = prompt.clone(), prompt.clone()
        g_a, g_b = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        for _ in range(room):
            a, pa = sampling.choose(
                gen.last_logits(fn_a, ids_a), strategy="sample", top_p=0.95, generator=g_a
            )
            b, pb = sampling.choose(
                gen.last_logits(fn_b, ids_b), strategy="sample", top_p=0.95, generator=g_b
            )
            torch.testing.assert_close(pa, pb, atol=1e-5, rtol=1e-4)
            assert torch.equal(a, b)
            ids_a, ids_b = torch.cat([ids_a, a[:, None]], 1), torch.cat([ids_b, b[:, None]], 1)
    with pytest.raises(ValueError, match="max_new_tokens must be at most"):
        gen.greedy_decode(gen.cached_logits_fn(model), prompt, max_new_tokens=room + 1)


@pytest.mark.parametrize("seed", range(3))
def test_sample_stories_writes_what_generate_writes(seed):
    """One story at a time, the batched cached sampler draws what ``generate`` draws."""
    model, vocab = random_gpt(seed, vocab=len(story_vocab())), story_vocab()
    for knobs in ({}, {"temperature": 0.8, "top_k": 5}, {"top_p": 0.7}, {"temperature": 0.0}):
        story = lm.sample_stories(model, 1, seed=seed, batch_size=1, **knobs)[0]
        n, bos = model.config.max_len - 1, torch.tensor([vocab.bos_id])
        knobs = {"strategy": "sample", "eos_id": vocab.eos_id, "seed": seed, **knobs}
        out = gen.generate(gen.cached_logits_fn(model), bos, max_new_tokens=n, **knobs)
        assert story == vocab.tokens(out.ids), knobs


def test_greedy_decode_pads_the_rows_that_wrote_eos():
    model = random_gpt(3)
    prompt = torch.tensor([[1], [2], [3]])
    n = model.config.max_len - 1
    free = gen.greedy_decode(gen.cached_logits_fn(model), prompt, max_new_tokens=n)
    eos = int(free[0, 2])  # row 0 writes it at its second step
    out = gen.greedy_decode(gen.cached_logits_fn(model), prompt, max_new_tokens=n, eos_id=eos, pad_id=0)
    for row, want in zip(out.tolist(), free.tolist()):
        stop = want.index(eos, 1) if eos in want[1:] else len(want)
        assert row[: stop + 1] == want[: stop + 1][: len(row)]
        assert all(t == 0 for t in row[stop + 1 :])


def test_a_cached_logits_fn_kept_across_a_weight_update_recomputes():
    """Trained (an optimiser's step writes into the weights) or loaded after its first call, the
    model's old keys are stale: the function must not write with them."""
    model = random_gpt(4)
    fn = gen.cached_logits_fn(model)
    prefix = torch.tensor([[1, 2, 3]])
    fn(prefix)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05)
    longer = torch.tensor([[1, 2, 3, 4]])
    torch.testing.assert_close(fn(longer), model(longer))
    model.train()  # the mode counts too: dropout, were there any, and the cache follow it
    torch.testing.assert_close(fn(longer), model(longer))


def test_a_cache_filled_by_one_model_is_refused_by_another():
    """Two models of the same sizes: the second would attend over the first's keys without error."""
    first = random_gpt(5)
    second = DecoderOnlyTransformer(first.config).eval()
    cache = first.new_cache()
    first.step(torch.tensor([[1, 2]]), cache)
    with pytest.raises(
        ValueError, match=r"cache must come from this model's new_cache\(\): it holds the keys"
    ):
        second.step(torch.tensor([[3]]), cache)
    first.step(torch.tensor([[3]]), cache)  # its own model goes on
    assert cache.length == 3


def test_a_model_and_its_cache_copied_together_stay_together():
    """deepcopy((model, cache)), as a checker copies its cases: the copied cache is the copied
    model's, not the original's (a weakref copied as it is would name the original)."""
    import copy

    model = random_gpt(7)
    cache = model.new_cache()
    model.step(torch.tensor([[1, 2]]), cache)
    model2, cache2 = copy.deepcopy((model, cache))
    torch.testing.assert_close(
        model2.step(torch.tensor([[3]]), cache2), model.step(torch.tensor([[3]]), cache)
    )
    with pytest.raises(ValueError, match="cache must come from this model"):
        model.step(torch.tensor([[4]]), cache2)


def test_a_cached_logits_fn_sees_a_submodule_switched_alone_and_replaced_weights():
    model = random_gpt(8)
    fn = gen.cached_logits_fn(model)
    prefix, longer = torch.tensor([[1, 2, 3]]), torch.tensor([[1, 2, 3, 4]])
    fn(prefix)
    model.load_state_dict({k: v + 0.05 for k, v in model.state_dict().items()}, assign=True)
    torch.testing.assert_close(fn(longer), model(longer))
    fn(prefix)
    before = fn.cache
    model.blocks.train()  # one submodule switched alone: its dropout, were there any, would draw
    fn(longer)
    assert fn.cache is not before  # a fresh cache, filled in the new mode


# --- sampling against reference maths ---


def hf_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Hugging Face's TopKLogitsWarper: below the k-th largest → -inf (ties with it stay)."""
    kth = torch.topk(logits, k).values[..., -1:]
    return logits.masked_fill(logits < kth, -math.inf)


def hf_top_p(logits: torch.Tensor, p: float, *, probs: torch.Tensor | None = None) -> torch.Tensor:
    """Hugging Face's TopPLogitsWarper (min_tokens_to_keep = 1); ``probs``: softmax(logits)
    when known exactly (the boundary cases: softmax of their logs rounds)."""
    probs = logits.softmax(dim=-1) if probs is None else probs
    # ascending, and among equal probabilities the higher ids first (dropped first): lib's ties
    ranked, order = (t.flip(-1) for t in torch.sort(probs, descending=True, stable=True))
    remove = ranked.cumsum(dim=-1) <= (1 - p)
    remove[..., -1:] = False
    return logits.masked_fill(remove.scatter(-1, order, remove), -math.inf)


def reference_probs(logits, temperature=1.0, top_k=None, top_p=None):
    x = logits.double() / temperature
    if top_k is not None:
        x = hf_top_k(x, top_k)
    if top_p is not None:
        x = hf_top_p(x, top_p)
    return x.softmax(dim=-1)


@pytest.mark.parametrize("seed", range(8))
def test_next_token_probs_is_the_reference_pipeline(seed):
    g = torch.Generator().manual_seed(seed)
    v = 2 + seed * 3
    logits = torch.randn(4, v, generator=g, dtype=torch.float64) * 3  # distinct values
    for t in (0.3, 1.0, 2.5):
        for k in (None, 1, v // 2 or 1, v):
            for p in (None, 0.05, 0.5, 0.9, 1.0):
                got = sampling.next_token_probs(logits, temperature=t, top_k=k, top_p=p)
                want = reference_probs(logits, t, k, p)
                torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=1e-5)


def test_top_k_keeps_ties_with_the_kth_largest():
    """As documented (and as Hugging Face does): every logit equal to the k-th largest stays."""
    logits = torch.tensor([[3.0, 1.0, 1.0, 1.0, 0.0]])
    got = sampling.next_token_probs(logits, top_k=2)
    torch.testing.assert_close(got, reference_probs(logits, top_k=2).float())
    assert (got > 0).tolist() == [[True, True, True, True, False]]


def test_top_p_at_the_boundary():
    """Exact probabilities: a token stays while the tokens above it hold < p together."""
    probs = torch.tensor([[0.5, 0.25, 0.125, 0.125]], dtype=torch.float64)
    for p, kept in [
        (0.5, 1),
        (0.5000001, 2),
        (0.75, 2),
        (0.7500001, 3),
        (0.875, 3),
        (0.8750001, 4),
        (1.0, 4),
    ]:
        got = sampling.keep_top_p(probs, p)
        assert int((got > 0).sum()) == kept, p
        torch.testing.assert_close(got, hf_top_p(probs.log(), p, probs=probs).softmax(-1))
    tiny = sampling.keep_top_p(probs, 1e-12)  # a very small p: the likeliest token only
    assert tiny.tolist() == [[1.0, 0.0, 0.0, 0.0]]


@pytest.mark.parametrize("v", [8, 128, 1024, 4096])
def test_top_p_ties_at_the_boundary_keep_the_lower_ids(v):
    """Among equally likely tokens the nucleus takes the lower ids first (a stable order: an
    unstable sort kept ids 64 … 127 of 128). 1 / v is exact: so are the totals."""
    for dtype in (torch.float32, torch.float64):
        probs = torch.full((2, v), 1.0 / v, dtype=dtype)
        for p, kept in [(0.25, v // 4), (0.5, v // 2), (0.5 + 0.5 / v, v // 2 + 1)]:
            got = sampling.keep_top_p(probs, p)
            assert (got > 0).tolist() == [[i < kept for i in range(v)]] * 2, (p, dtype)
            torch.testing.assert_close(got, hf_top_p(probs.log(), p, probs=probs).softmax(-1))


def test_top_p_adds_thousands_of_probabilities_without_drift():
    """p set to the exact total of the 1000 likeliest of 5000 float32 probabilities: those
    1000 stay, the next goes (float32 running totals drifted past the boundary)."""
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(3, 5000, generator=g) * 0.1, dim=-1)  # (3, V) float32
    ranked = probs.sort(dim=-1, descending=True).values.double()
    for row in range(3):
        for n in (1000, 2500, 4000):
            p = float(ranked[row, :n].sum())
            got = sampling.keep_top_p(probs[row : row + 1], p)
            assert int((got > 0).sum()) == n, (row, n)
            assert torch.equal(got > 0, sampling.keep_top_p(probs[row : row + 1].double(), p) > 0)


def test_temperature_zero_and_tiny_temperature_are_greedy():
    logits = torch.tensor([[0.1, 2.0, -1.0], [5.0, 4.999, 0.0]])
    for t in (0.0, 1e-30):
        assert sampling.next_token_probs(logits, temperature=t).argmax(-1).tolist() == [1, 0]
        ids, _ = sampling.choose(logits, strategy="sample", temperature=t, generator=torch.Generator())
        assert ids.tolist() == [1, 0]


@pytest.mark.parametrize(
    "knobs", [{}, {"temperature": 0.7}, {"top_k": 3}, {"top_p": 0.8}, {"top_k": 4, "top_p": 0.9}]
)
def test_draws_follow_the_distribution(knobs):
    """Chi-square of 40,000 draws over the tokens allowed; blocked tokens never drawn."""
    logits = torch.tensor([1.2, 0.3, -0.5, 2.0, 0.0, -3.0])
    probs = sampling.next_token_probs(logits[None], **knobs)[0]
    n = 40_000
    ids, _ = sampling.choose(
        logits.expand(n, -1), strategy="sample", generator=torch.Generator().manual_seed(7), **knobs
    )
    counts = torch.bincount(ids, minlength=len(logits)).double()
    allowed = probs > 0
    assert counts[~allowed].sum() == 0
    expected = n * probs[allowed].double()
    chi2 = float(((counts[allowed] - expected) ** 2 / expected).sum())
    df = int(allowed.sum()) - 1
    assert chi2 < df + 6 * math.sqrt(2 * max(df, 1)) + 5, (chi2, df)


# --- stories ---

GENERATORS = [StoryGenerator(), StoryGenerator(1, 3), StoryGenerator(1, 1)]


@pytest.mark.parametrize("g", GENERATORS, ids=repr)
def test_recogniser_accepts_every_story_and_scores_it_by_the_chain_rule(g):
    for story in g.sample(40, seed=3):
        assert g.is_story(story.tokens) and g.is_story(story.text)
        assert g.first_mistake(story.tokens) is None
        assert math.isclose(g.log_prob(story.text), story.log_prob, rel_tol=1e-12)
        chain = sum(
            math.log(g.next_token_probs(story.tokens[:i])[story.tokens[i]])
            for i in range(1, len(story.tokens))
        )
        assert math.isclose(chain, story.log_prob, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("g", GENERATORS, ids=repr)
def test_recogniser_rejects_single_token_corruptions(g):
    """A swapped token is a story only if every next-token probability stays > 0; otherwise
    the first mistake is at the swap or later."""
    rng, words = random.Random(5), [w for w in story_vocab().itos[4:]] + [EOS]
    rejected = 0
    for story in g.sample(30, seed=4):
        tokens = list(story.tokens)
        i = rng.randrange(1, len(tokens))
        tokens[i] = rng.choice([w for w in words if w != tokens[i]])
        mistake = g.first_mistake(tokens)
        assert (mistake is None) == g.is_story(tokens) == math.isfinite(g.log_prob(tokens))
        if mistake is not None:
            rejected += 1
            assert mistake.position >= i and mistake.token not in mistake.allowed
    assert rejected >= 25


@pytest.mark.parametrize("g", GENERATORS, ids=repr)
def test_entropy_floor_is_the_monte_carlo_mean(g):
    stories = g.sample(4000, seed=11)
    nll = torch.tensor([-s.log_prob for s in stories], dtype=torch.float64)
    tokens = torch.tensor([s.num_predicted for s in stories], dtype=torch.float64)
    assert abs(float(nll.mean()) - g.entropy()) < 4 * float(nll.std()) / math.sqrt(len(stories))
    assert (
        abs(float(tokens.mean()) - g.mean_tokens()) < 4 * float(tokens.std()) / math.sqrt(len(stories)) + 1e-9
    )
    assert abs(lm.floor_on(stories) - g.entropy_per_token()) < 0.02
    assert max(len(s.tokens) for s in stories) <= g.max_tokens()


def test_next_token_probs_sum_to_one_along_a_story():
    g = StoryGenerator(1, 3)
    for story in g.sample(10, seed=2):
        for i in range(1, len(story.tokens)):
            probs = g.next_token_probs(story.tokens[:i])
            assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-12)
            torch.testing.assert_close(float(g.next_token_tensor(story.tokens[:i]).sum()), 1.0)


def test_tokenizer_and_ids_round_trip():
    vocab, stories = story_vocab(), StoryGenerator().sample(50, seed=8)
    ids = encode(stories)
    for row, story in zip(ids, stories):
        assert decode(row) == list(story.tokens)
        assert vocab.tokens(vocab.ids(list(story.tokens))) == list(story.tokens)
        text = vocab.decode(row)
        assert vocab.encode(text).tolist() == vocab.ids(list(story.tokens[1:-1]))
        assert StoryGenerator().parse(text).tokens == story.tokens


# --- lm_training's losses, by hand ---


def by_hand(model, ids, pad_id):
    """Σ −ln p(label) over the non-padding labels, one position at a time, and their count."""
    total, count = 0.0, 0
    with torch.no_grad():
        logits = model(ids[:, :-1])
    for b in range(ids.shape[0]):
        for i in range(ids.shape[1] - 1):
            label = int(ids[b, i + 1])
            if label != pad_id:
                total += float(F.cross_entropy(logits[b, i : i + 1].double(), torch.tensor([label])))
                count += 1
    return total, count


@pytest.mark.parametrize("seed", range(4))
def test_losses_are_cross_entropy_over_the_labels_that_are_not_padding(seed):
    model = random_gpt(seed)
    c = model.config
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, c.vocab_size, (5, c.max_len), generator=g)
    for row, n in enumerate((c.max_len, 3, 2, c.max_len - 1, 4)):
        ids[row, n:] = c.pad_id  # stories of different lengths, padded on the right
    total, count = by_hand(model, ids, c.pad_id)
    with torch.no_grad():
        loss = lm.next_token_loss(model, ids, pad_id=c.pad_id)
    assert math.isclose(float(loss), total / count, rel_tol=1e-5)
    for batch_size in (1, 2, 64):
        got = lm.validation_loss(model, ids, pad_id=c.pad_id, batch_size=batch_size)
        assert math.isclose(got, total / count, rel_tol=1e-5)


def test_story_batch_fn_cuts_after_the_longest_story_of_the_batch():
    ids = encode(StoryGenerator(1, 3).sample(20, seed=1)).to(torch.uint8)
    fn = lm.story_batch_fn(ids)
    for picked in ([0], [3, 7], list(range(20))):
        got = fn(torch.tensor(picked))
        longest = int((ids[picked] != 0).sum(1).max())
        assert got.dtype == torch.long and got.shape == (len(picked), longest)
        assert torch.equal(got, ids[picked, :longest].long())


# --- pronoun heads on hand-written attention ---


class FakeGPT(nn.Module):
    """A 'model' whose attention the test writes: per layer (B, h, L, L), from ``pattern``."""

    def __init__(self, pattern, layers=2, heads=3):
        super().__init__()
        self.pattern, self.layers, self.heads = pattern, layers, heads
        self.weight = nn.Parameter(torch.zeros(1))
        self.stories = None

    def forward(self, ids, *, need_weights=False):
        b, n = ids.shape
        self.weights = [torch.zeros(b, self.heads, n, n) for _ in range(self.layers)]
        for i, story in enumerate(self.stories[self.offset : self.offset + b]):
            for link in story.links:
                for row in (link.query, link.pronoun):
                    for layer in range(self.layers):
                        for head in range(self.heads):
                            self.weights[layer][i, head, row] = self.pattern(layer, head, link, n)
        self.offset += b
        return torch.zeros(b, n, len(story_vocab()))

    def attention_weights(self):
        return {"decoder_self": self.weights}


def spread(positions, n):
    w = torch.zeros(n)
    w[list(positions)] = 1.0 / len(positions)
    return w


def pattern(layer, head, link, n):
    """(1, 2): all on the referent's mentions; (0, 0): all on the first distractor's;
    (1, 0): evenly on every mention of either (prefers nothing); others: uniform."""
    if (layer, head) == (1, 2):
        return spread(link.referent_mentions, n)
    if (layer, head) == (0, 0):
        return spread(link.distractor_mentions[0], n)
    if (layer, head) == (1, 0):
        mentions = link.referent_mentions + sum(link.distractor_mentions, ())
        return spread(mentions, n)
    return torch.full((n,), 1.0 / n)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_pronoun_readings_on_a_hand_built_pattern(batch_size):
    stories = StoryGenerator(1, 3).sample(12, seed=6)
    model = FakeGPT(pattern)
    model.stories, model.offset = stories, 0
    seen = ph.pronoun_readings(model, stories, batch_size=batch_size)["query"]
    links = [link for s in stories for link in s.links]
    assert seen.referent.shape == seen.distractor.shape == (2, 3, len(links))
    for p, link in enumerate(links):
        r = len(link.referent_mentions)
        torch.testing.assert_close(float(seen.referent[1, 2, p]), 1.0 / r)
        most = max(len(m) for m in link.distractor_mentions)  # the head spread on the first only
        assert float(seen.distractor[1, 2, p]) == 0.0
        torch.testing.assert_close(float(seen.distractor[0, 0, p]), 1.0 / len(link.distractor_mentions[0]))
        assert float(seen.referent[0, 0, p]) == 0.0 and most >= 1
        torch.testing.assert_close(float(seen.referent[1, 0, p]), float(seen.distractor[1, 0, p]))
    rate = seen.pronoun_rate()
    assert rate[1, 2] == 1 and rate[0, 0] == 0 and rate[1, 0] == 0
    assert seen.story_rate()[1, 2] == 1 and seen.story_rate()[0, 0] == 0
    model.offset = 0
    head = ph.find_pronoun_head(model, stories)
    assert (head.layer, head.head, head.selection_rate) == (1, 2, 1.0)
    model.offset = 0
    heads = ph.find_pronoun_heads(model, stories)
    assert all((h.layer, h.head) == (1, 2) for h in heads.values())
    assert seen.stories_won(heads) == 1.0
