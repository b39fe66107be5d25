"""Benchmark 2: one encoder-decoder training step, lib's model vs ``nn.Transformer``.

Both models get the same embeddings (lib ``TokenEmbedding`` + sinusoidal positions) and
the same output layer; one step = forward, cross-entropy loss, backward, Adam step.
The two models alternate in one process.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._common import Row, Section, compare, ratio_row

GOAL = 1.0


@dataclass(frozen=True)
class Size:
    vocab: int = 1000
    length: int = 64
    batch: int = 32
    d_model: int = 256
    heads: int = 8
    layers: int = 2        # encoder layers = decoder layers
    d_ff: int = 1024


class TorchSeq2Seq(nn.Module):
    """nn.Transformer between lib's embeddings and a linear output layer (the baseline)."""

    def __init__(self, s: Size):
        super().__init__()
        from transformer_course.embeddings import TokenEmbedding
        from transformer_course.positional import sinusoidal_encoding

        self.src_embed = TokenEmbedding(s.vocab, s.d_model)
        self.tgt_embed = TokenEmbedding(s.vocab, s.d_model)
        self.register_buffer("pe", sinusoidal_encoding(s.length, s.d_model))
        self.transformer = nn.Transformer(
            d_model=s.d_model, nhead=s.heads, num_encoder_layers=s.layers,
            num_decoder_layers=s.layers, dim_feedforward=s.d_ff, dropout=0.0, batch_first=True)
        self.out = nn.Linear(s.d_model, s.vocab)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        x = self.src_embed(src) + self.pe[: src.shape[1]]
        y = self.tgt_embed(tgt) + self.pe[: tgt.shape[1]]
        return self.out(self.transformer(x, y, tgt_mask=causal, tgt_is_causal=True))


def lib_model(s: Size) -> nn.Module | None:
    """lib's encoder-decoder at size ``s`` as (src, tgt) → logits, or None if lib has none yet."""
    try:
        from transformer_course import model  # noqa: F401
    except ImportError:
        return None
    raise NotImplementedError("adapt to transformer_course.model once it exists")


def step_fn(model: nn.Module, src: torch.Tensor, tgt: torch.Tensor):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(src, tgt_in)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return step


def run(*, size: Size = Size(), rounds: int = 10) -> Section:
    s = size
    section = Section("training", "2 · One training step: lib's Transformer vs nn.Transformer")
    section.notes.append(
        f"vocabulary {s.vocab}, length {s.length}, batch {s.batch}, d_model {s.d_model}, "
        f"{s.heads} heads, {s.layers}+{s.layers} layers, d_ff {s.d_ff}, dropout 0; one step = "
        "forward + cross-entropy + backward + Adam. Both models use the same embeddings and "
        f"output layer; {rounds} alternating rounds. Spread: median (min–max) of lib vs of PyTorch.")
    torch.manual_seed(0)
    src = torch.randint(0, s.vocab, (s.batch, s.length))
    tgt = torch.randint(0, s.vocab, (s.batch, s.length + 1))
    lib = lib_model(s)
    if lib is None:
        section.rows.append(Row("training step: lib / nn.Transformer", "not yet available",
                                "transformer_course.model does not exist on this branch yet",
                                f"≤ {GOAL:.2f}×", None))
        return section
    ref = TorchSeq2Seq(s)
    t = compare({"lib": step_fn(lib.train(), src, tgt), "torch": step_fn(ref.train(), src, tgt)},
                rounds=rounds)
    section.rows.append(ratio_row("training step: lib / nn.Transformer", t["lib"], t["torch"], goal=GOAL))
    return section
