"""Benchmarks 2b and 2c: lib's GPT (``DecoderOnlyTransformer``) training and generating.

2b, one training step against a nanoGPT-style model written here the way nanoGPT's
``model.py`` writes it (one screen per class): pre-norm blocks, learned positions, a GELU
MLP four times as wide, a final LayerNorm, the output layer tied to the token embedding,
and PyTorch's fused causal attention ``F.scaled_dot_product_attention(..., is_causal=True)``.
Both have the same sizes and parameter count; one step = forward, cross-entropy,
backward, AdamW step. The two alternate in one process.

2c, generating 200 new tokens greedily with ``generation.generate``, with the KV cache
(``cached_logits_fn``) and without it (``decoder_logits_fn``: the whole prefix at every
step); same model, same prompt, alternating. The row "same tokens" asserts that the two
write the same ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._common import Row, Section, compare, median, ratio_row, speedup_row

GOAL = 1.0  # lib's training step / the reference
GOAL_SPEEDUP = 5.0  # cached generation / uncached, tokens per second


@dataclass(frozen=True)
class Size:
    """A GPT small enough for the course to train on a CPU (heads of 32 dimensions)."""

    vocab: int = 200
    length: int = 64
    batch: int = 32
    d_model: int = 128
    heads: int = 4
    layers: int = 4
    d_ff: int = 512  # 4 · d_model, as in GPT-2


# Chapter 09's model: many narrow heads, trained through lib's narrow_heads path.
CHAPTER_09 = Size(vocab=73, length=44, batch=32, d_model=64, heads=16, layers=1, d_ff=128)


def lib_model(s: Size, max_len: int | None = None) -> nn.Module:
    """lib's GPT: pre-norm, learned positions, GELU, tied embeddings, no dropout;
    positions up to ``max_len`` (default: the training length)."""
    from transformer_course.model import DecoderOnlyTransformer, TransformerConfig

    config = TransformerConfig(
        vocab_size=s.vocab,
        d_model=s.d_model,
        num_heads=s.heads,
        num_decoder_layers=s.layers,
        d_ff=s.d_ff,
        dropout=0.0,
        max_len=s.length if max_len is None else max_len,
        norm_first=True,
        activation="gelu",
        positional="learned",
    )
    return DecoderOnlyTransformer(config)


class CausalSelfAttention(nn.Module):
    def __init__(self, s: Size):
        super().__init__()
        self.heads = s.heads
        self.c_attn = nn.Linear(s.d_model, 3 * s.d_model)  # query, key, value in one matmul
        self.c_proj = nn.Linear(s.d_model, s.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, s: Size):
        super().__init__()
        self.ln_1 = nn.LayerNorm(s.d_model)
        self.attn = CausalSelfAttention(s)
        self.ln_2 = nn.LayerNorm(s.d_model)
        self.mlp = nn.Sequential(nn.Linear(s.d_model, s.d_ff), nn.GELU(), nn.Linear(s.d_ff, s.d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ReferenceGPT(nn.Module):
    """nanoGPT's GPT at the same sizes: ids (B, T) → logits (B, T, V)."""

    def __init__(self, s: Size):
        super().__init__()
        self.wte = nn.Embedding(s.vocab, s.d_model)
        self.wpe = nn.Embedding(s.length, s.d_model)
        self.h = nn.ModuleList(Block(s) for _ in range(s.layers))
        self.ln_f = nn.LayerNorm(s.d_model)
        self.lm_head = nn.Linear(s.d_model, s.vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        for name, p in self.named_parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02 if "c_proj" not in name else 0.02 / math.sqrt(2 * s.layers))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)  # (T,)
        x = self.wte(ids) + self.wpe(pos)  # (B, T, C)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))  # (B, T, V)


def step_fn(model: nn.Module, ids: torch.Tensor):
    """One training step on ids (B, T + 1): predict ids[:, 1:] from ids[:, :-1]."""
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    inputs, labels = ids[:, :-1], ids[:, 1:]

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return step


def run_training(*, size: Size = Size(), narrow: Size = CHAPTER_09, rounds: int = 20) -> Section:
    s = size
    section = Section(
        "gpt", "2b · One GPT training step: lib's DecoderOnlyTransformer vs a nanoGPT-style GPT"
    )
    section.notes.append(_training_note(s, narrow, rounds))
    section.rows.append(_step_row(s, rounds, "GPT training step: lib / nanoGPT-style reference"))
    section.rows.append(
        _step_row(
            narrow,
            rounds,
            f"the same at chapter 09's size ({narrow.heads} heads of {narrow.d_model // narrow.heads}, "
            f"{narrow.layers} layer{'' if narrow.layers == 1 else 's'}, length {narrow.length})",
        )
    )
    return section


def _step_row(s: Size, rounds: int, name: str) -> Row:
    """lib's training step / the reference's, at size ``s`` (a note on the section says how)."""
    lib, ref = lib_model(s).train(), ReferenceGPT(s).train()
    torch.manual_seed(0)
    ids = torch.randint(1, s.vocab, (s.batch, s.length + 1))  # id 0 is <pad>: none here
    t = compare({"lib": step_fn(lib, ids), "reference": step_fn(ref, ids)}, rounds=rounds)
    return ratio_row(name, t["lib"], t["reference"], goal=GOAL)


def _training_note(s: Size, narrow: Size, rounds: int) -> str:
    lib, ref = lib_model(s), ReferenceGPT(s)
    n_lib, n_ref = (sum(p.numel() for p in m.parameters()) for m in (lib, ref))
    t_lib, t_ref = (len(list(m.parameters())) for m in (lib, ref))
    return (
        f"vocabulary {s.vocab}, length {s.length}, batch {s.batch}, d_model {s.d_model}, {s.heads} heads, "
        f"{s.layers} layers, d_ff {s.d_ff} (GELU), dropout 0; pre-norm, learned positions, final "
        f"LayerNorm, tied output layer ({n_lib:,} parameters in lib's, {n_ref:,} in the reference). "
        "The reference is nanoGPT's model written in bench/gpt.py, with "
        "F.scaled_dot_product_attention(is_causal=True). One step = forward + cross-entropy + "
        f"backward + AdamW, on ids with no padding; {rounds} alternating rounds. Ratio = median over "
        f"rounds of lib / reference. Same arithmetic; lib keeps W_Q, W_K, W_V as three matrices (the "
        f"reference as one), so AdamW's per-tensor loop updates {t_lib} tensors against {t_ref}. "
        f"Second row: chapter 09's model (vocabulary {narrow.vocab}, d_model {narrow.d_model}, "
        f"{narrow.heads} heads of {narrow.d_model // narrow.heads} dimensions, d_ff {narrow.d_ff}, "
        f"batch {narrow.batch}), where lib trains its narrow heads with transformer_course.narrow_heads "
        "(every thin product computed transposed) and the reference with PyTorch's fused kernel."
    )


@dataclass(frozen=True)
class Generation:
    """What 2c generates: a prompt of ``prompt`` tokens, then ``new`` tokens, within max_len."""

    prompt: int = 56  # a story's opening two sentences or so
    new: int = 200
    max_len: int = 256  # prompt + new fill it


def generators(model: nn.Module, prompt: torch.Tensor, new: int) -> dict:
    """The contenders, each writing ``new`` tokens greedily after prompt (t0,): lib's greedy
    decoder without and with the KV cache, and ``generate`` (which also keeps a trace of
    every step's distribution) without and with it. Each returns the ids (1, t0 + new)."""
    from transformer_course import generation as gen

    def decode(fn):
        return lambda: gen.greedy_decode(fn(model), prompt.unsqueeze(0), max_new_tokens=new)

    def generate(fn):
        return lambda: gen.generate(fn(model), prompt, max_new_tokens=new).ids.unsqueeze(0)

    return {
        "uncached": decode(gen.decoder_logits_fn),
        "cached": decode(gen.cached_logits_fn),
        "generate, uncached": generate(gen.decoder_logits_fn),
        "generate, cached": generate(gen.cached_logits_fn),
    }


def run_generation(*, size: Size = Size(), what: Generation = Generation(), rounds: int = 7) -> Section:
    s, g = size, what
    section = Section(
        "kv_cache", "2c · Generating with and without the KV cache: lib's GPT, tokens per second"
    )
    section.notes.append(
        f"lib's DecoderOnlyTransformer (vocabulary {s.vocab}, d_model {s.d_model}, {s.heads} heads, "
        f"{s.layers} layers, d_ff {s.d_ff}, max_len {g.max_len}, pre-norm, learned positions), eval mode, "
        f"untrained; one prompt of {g.prompt} tokens (batch 1), then {g.new} new tokens, greedy. Without "
        "the cache every step runs the whole prefix (decoder_logits_fn); with it, the new token only "
        "(cached_logits_fn, which runs its steps under torch.inference_mode; the uncached model runs "
        "under greedy_decode's no_grad, where inference_mode would save about 2-3 %: its steps are "
        "large). Timed through generation.greedy_decode, and through generation.generate, "
        f"which also records each step's distribution; {rounds} alternating rounds. Speed-up = median "
        "over rounds of uncached / cached time."
    )
    torch.manual_seed(0)
    model = lib_model(s, g.max_len).eval()
    prompt = torch.randint(1, s.vocab, (g.prompt,))
    contenders = generators(model, prompt, g.new)
    outputs = [run() for run in contenders.values()]  # also the warm-up
    same = all(torch.equal(outputs[0], out) for out in outputs[1:])
    t = compare(contenders, rounds=rounds, warmup=0)
    for name in ("uncached", "cached"):
        rate = [g.new / x for x in t[name]]
        section.rows.append(
            Row(
                f"tokens per second, {name} (greedy_decode)",
                f"{median(rate):.0f} tokens/s",
                f"{median(rate):.0f} ({min(rate):.0f}–{max(rate):.0f})",
            )
        )
    section.rows += [
        speedup_row(
            f"KV cache speed-up at {g.new} new tokens (greedy_decode, cached / uncached tokens per second)",
            t["uncached"],
            t["cached"],
            goal=GOAL_SPEEDUP,
        ),
        speedup_row(
            f"the same through generate (with its per-step trace), {g.new} new tokens",
            t["generate, uncached"],
            t["generate, cached"],
        ),
        Row("same tokens with and without the cache", "yes" if same else "no", "", "yes", same),
    ]
    return section
