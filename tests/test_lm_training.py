"""Training a GPT on stories: the loss counts the tokens the floor counts, batches, AdamW, sampling."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import lm_training as lm
from transformer_course.generation import cached_logits_fn, generate
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.stories import StoryGenerator, encode, story_vocab
from transformer_course.tokenizer import BOS, EOS, PAD
from transformer_course.training import train

GEN = StoryGenerator()
STORIES = GEN.sample(60, seed=3)
VOCAB = story_vocab()


def gpt(seed=0, max_len=None) -> DecoderOnlyTransformer:
    torch.manual_seed(seed)
    config = TransformerConfig(
        vocab_size=len(VOCAB),
        d_model=16,
        num_heads=2,
        num_decoder_layers=2,
        d_ff=32,
        dropout=0.0,
        max_len=max_len or GEN.max_tokens(),
        norm_first=True,
        activation="gelu",
        positional="learned",
    )
    return DecoderOnlyTransformer(config)


class Oracle(nn.Module):
    """A "model" whose logits are the log of the generator's exact next-token distribution."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))  # so that it has a device

    def forward(self, ids):
        out = torch.zeros(*ids.shape, len(VOCAB))  # uniform where nothing is predicted
        for b, row in enumerate(ids):
            tokens = VOCAB.tokens(row)
            for t in range(len(tokens)):
                if tokens[t] in (EOS, PAD):
                    break
                probs = GEN.next_token_probs(tokens[: t + 1])
                out[b, t] = -1e9
                for word, p in probs.items():
                    out[b, t, VOCAB.stoi[word]] = math.log(p)
        return out


def test_next_token_loss_is_cross_entropy_of_the_shifted_ids_without_padding():
    model = gpt().eval()
    ids = encode(STORIES[:8])  # (8, T) with padding after the shorter stories
    assert (ids == VOCAB.pad_id).any()
    with torch.no_grad():
        loss = lm.next_token_loss(model, ids)
        logits = model(ids[:, :-1])
        want = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten(), ignore_index=VOCAB.pad_id)
        # by hand: −log p(label) at every non-padding label, averaged over those labels only
        logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
        real = ids[:, 1:] != VOCAB.pad_id
        by_hand = -(logp[real]).mean()
        # more padding changes nothing
        longer = lm.next_token_loss(model, encode(STORIES[:8], length=ids.shape[1] + 5))
    assert loss.item() == pytest.approx(want.item(), abs=1e-6)
    assert loss.item() == pytest.approx(by_hand.item(), abs=1e-5)
    assert longer.item() == pytest.approx(loss.item(), abs=1e-5)
    assert int(real.sum()) == sum(s.num_predicted for s in STORIES[:8])  # the floor's tokens


def test_the_oracles_validation_loss_is_the_generators_loss_on_the_same_stories():
    ids = encode(STORIES[:25])
    oracle = lm.validation_loss(Oracle(), ids, batch_size=7)  # batches of unequal token counts
    assert oracle == pytest.approx(lm.floor_on(STORIES[:25]), abs=1e-6)
    # and floor_on is an estimate of entropy_per_token (3000 stories: within 2 %)
    assert lm.floor_on(GEN.sample(3000, seed=1)) == pytest.approx(GEN.entropy_per_token(), rel=0.02)


def test_validation_loss_weighs_every_token_alike_whatever_the_batches():
    model, ids = gpt(), encode(STORIES)
    whole = lm.validation_loss(model, ids, batch_size=1000)
    assert lm.validation_loss(model, ids, batch_size=7) == pytest.approx(whole, abs=1e-5)
    with torch.no_grad():
        want = lm.next_token_loss(model, ids).item()
    assert whole == pytest.approx(want, abs=1e-5)
    model.train()
    lm.validation_loss(model, ids)
    assert model.training  # left as it was


def test_story_batch_fn_cuts_after_the_longest_story_of_the_batch():
    ids = encode(STORIES, length=GEN.max_tokens())
    batch_fn = lm.story_batch_fn(ids)
    idx = torch.tensor([4, 0, 9])
    batch = batch_fn(idx)
    longest = max(len(STORIES[i].tokens) for i in idx.tolist())
    assert batch.shape == (3, longest)
    assert torch.equal(batch, ids[idx, :longest])
    small = lm.story_batch_fn(ids.to(torch.uint8))(idx)  # stored in a byte, batched as int64
    assert small.dtype == torch.long and torch.equal(small, batch)


def test_gpt_optimiser_uses_gpts_betas_and_decays_matrices_only():
    model = gpt()
    opt = lm.gpt_optimiser(weight_decay=0.5)(model, 0.1)
    assert isinstance(opt, torch.optim.AdamW)
    assert all(g["betas"] == (0.9, 0.95) for g in opt.param_groups)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no gradient: only the weight decay moves anything
    opt.step()
    for name, p in model.named_parameters():
        if p.dim() >= 2:  # shrunk by lr · weight_decay = 5 %
            assert torch.allclose(p, before[name] * 0.95, atol=1e-6), name
        else:  # biases and LayerNorm gains: untouched
            assert torch.equal(p, before[name]), name


def test_gpt_optimiser_is_fused_on_the_cpu_and_steps_as_the_plain_loop_does():
    model, twin = gpt(), gpt()
    twin.load_state_dict(model.state_dict())
    opt = lm.gpt_optimiser(weight_decay=0.1)(model, 1e-2)
    assert opt.defaults["fused"] is True  # one kernel per tensor, not a Python loop
    groups = [
        {"params": [p for p in twin.parameters() if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in twin.parameters() if p.dim() < 2], "weight_decay": 0.0},
    ]
    plain = torch.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.95), foreach=False)
    ids = encode(STORIES)
    for m, o in ((model, opt), (twin, plain)):  # one step: later ones amplify rounding (Adam's 1/√v)
        lm.next_token_loss(m, ids).backward()
        o.step()
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name
    double = gpt().to(torch.float64)
    assert lm.gpt_optimiser()(double, 1e-2).defaults["fused"] is True
    meta = gpt().to("meta")  # no fused kernel there: PyTorch's default
    assert lm.gpt_optimiser()(meta, 1e-2).defaults["fused"] is None


def test_train_accepts_the_gpt_optimiser_and_lowers_the_loss():
    stories = GEN.sample(256, seed=4)
    ids = encode(stories)
    model = gpt()
    start = lm.validation_loss(model, ids)
    history = train(
        model,
        lm.story_loss_fn(),
        lm.story_batch_fn(ids),
        len(ids),
        steps=60,
        batch_size=32,
        lr=1e-2,
        warmup=5,
        decay=True,
        optimiser=lm.gpt_optimiser(),
        progress=False,
    )
    assert lm.validation_loss(model, ids) < 0.6 * start
    assert history.learning_rates[4] == pytest.approx(1e-2) and history.learning_rates[-1] < 2e-3
    with pytest.raises(ValueError, match="optimiser"):
        train(model, lm.story_loss_fn(), lm.story_batch_fn(ids), len(ids), steps=1, progress=False,
              optimiser=lambda m, lr: "adam")  # fmt: skip


def test_sample_stories_is_seeded_starts_with_bos_and_stops_at_eos():
    model = gpt(max_len=20)
    a = lm.sample_stories(model, 12, seed=1)
    assert a == lm.sample_stories(model, 12, seed=1) and a != lm.sample_stories(model, 12, seed=2)
    for story in a:
        assert story[0] == BOS and len(story) <= 20
        assert EOS not in story[:-1]
    greedy = lm.sample_stories(model, 3, temperature=0.0)
    assert greedy[0] == greedy[1] == greedy[2]
    assert lm.sample_stories(model, 7, temperature=0.0, batch_size=3) == greedy[:1] * 7  # in batches of 3
    assert len(lm.sample_stories(model, 7, batch_size=3)) == 7
    # the batched, cached greedy story is the one generate() writes one token at a time
    one = generate(cached_logits_fn(model), torch.tensor([VOCAB.bos_id]), max_new_tokens=19,
                   eos_id=VOCAB.eos_id)  # fmt: skip
    assert VOCAB.tokens(one.ids) == greedy[0]


def test_sample_stories_hands_what_it_freed_back_once_it_is_done(monkeypatch):
    model, calls = gpt(max_len=12), []
    monkeypatch.setattr(lm, "release_freed_memory", lambda: calls.append(len(calls)) or True)
    monkeypatch.setattr(lm, "_sample_batch", lambda *a: calls.append("batch") or [[BOS]] * a[1])
    assert len(lm.sample_stories(model, 5, batch_size=2)) == 5
    assert calls == ["batch", "batch", "batch", 3]  # after the last batch, once


def test_sampled_distribution_follows_temperature_and_top_k():
    model = gpt(max_len=2)  # one token after <bos>: its distribution is the model's
    with torch.no_grad():
        logits = model(torch.tensor([[VOCAB.bos_id]]))[0, -1]
    draws = lm.sample_stories(model, 4000, temperature=2.0, top_k=5, seed=0)
    counts = torch.bincount(torch.tensor([VOCAB.stoi[s[1]] for s in draws]), minlength=len(VOCAB))
    want = torch.softmax(logits / 2.0, -1) * (logits >= logits.topk(5).values[-1])
    want = want / want.sum()
    assert (counts / 4000 - want).abs().max() < 0.03 and int((counts > 0).sum()) == 5


def test_acceptance_counts_stories_the_generator_could_write():
    good = [s.tokens for s in STORIES[:10]]
    bad = [s.tokens[:-3] + s.tokens[-2:] for s in STORIES[:10]]  # a word dropped
    assert lm.acceptance(GEN, good) == 1.0
    assert lm.acceptance(GEN, good + bad) == 0.5


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: lm.next_token_loss(gpt(), torch.zeros(2, 1, dtype=torch.long)), "ids"),
        (lambda: lm.validation_loss(gpt(), encode(STORIES[:2]), batch_size=0), "batch_size"),
        (lambda: lm.gpt_optimiser(weight_decay=-1), "weight_decay"),
        (lambda: lm.gpt_optimiser(betas=(0.9, 1.5)), "betas"),
        (lambda: lm.floor_on([]), "stories"),
        (lambda: lm.sample_stories(nn.Linear(2, 2), 3), "model"),
        (lambda: lm.sample_stories(gpt(), 3, top_p=2.0), "top_p"),
        (lambda: lm.acceptance("gen", [["a"]]), "generator"),
    ],
)
def test_bad_arguments_are_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()
