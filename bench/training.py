"""Benchmark 2: one encoder-decoder training step, lib's model vs ``nn.Transformer``.

Both models get the same embeddings (lib's: token · √d_model + sinusoidal positions,
the matrix shared with the output layer) and the same output layer; one step = forward,
cross-entropy loss, backward, Adam step.
The two models alternate in one process.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._common import Section, compare, ratio_row

GOAL = 1.0


@dataclass(frozen=True)
class Size:
    vocab: int = 1000
    length: int = 64
    batch: int = 32
    d_model: int = 256
    heads: int = 8
    layers: int = 2  # encoder layers = decoder layers
    d_ff: int = 1024


def config(s: Size):
    from transformer_course.model import TransformerConfig

    return TransformerConfig(
        vocab_size=s.vocab,
        d_model=s.d_model,
        num_heads=s.heads,
        num_encoder_layers=s.layers,
        num_decoder_layers=s.layers,
        d_ff=s.d_ff,
        dropout=0.0,
        max_len=s.length + 1,
    )


def lib_model(s: Size) -> nn.Module:
    """lib's encoder-decoder ``Transformer``: (src, trg_in) → logits."""
    from transformer_course.model import Transformer

    return Transformer(config(s))


class TorchSeq2Seq(nn.Module):
    """``nn.Transformer`` between the same embeddings and output layer as lib's model.

    The embeddings (token · √d_model + sinusoidal positions, one matrix shared with the
    output layer) come from a lib ``Transformer`` built only for them; the masks carry the
    same information as lib's (causal, and padding as keys everywhere).
    """

    def __init__(self, s: Size):
        super().__init__()
        from transformer_course.model import Transformer

        shell = Transformer(config(s))
        self.pad_id = shell.config.pad_id
        self.src_embed, self.trg_embed, self.output = shell.src_embed, shell.trg_embed, shell.output
        self.transformer = nn.Transformer(
            d_model=s.d_model,
            nhead=s.heads,
            num_encoder_layers=s.layers,
            num_decoder_layers=s.layers,
            dim_feedforward=s.d_ff,
            dropout=0.0,
            batch_first=True,
        )

    def forward(self, src: torch.Tensor, trg_in: torch.Tensor) -> torch.Tensor:
        length = trg_in.shape[1]  # masks: True = blocked
        causal = torch.ones(length, length, dtype=torch.bool, device=src.device).triu(1)
        src_pad, trg_pad = src == self.pad_id, trg_in == self.pad_id
        h = self.transformer(
            self.src_embed(src),
            self.trg_embed(trg_in),
            tgt_mask=causal,
            src_key_padding_mask=src_pad,
            tgt_key_padding_mask=trg_pad,
            memory_key_padding_mask=src_pad,
            tgt_is_causal=True,
        )
        return self.output(h)


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


def run(*, size: Size = Size(), rounds: int = 8) -> Section:
    s = size
    section = Section("training", "2 · One training step: lib's Transformer vs nn.Transformer")
    section.notes.append(
        f"vocabulary {s.vocab}, length {s.length}, batch {s.batch}, d_model {s.d_model}, "
        f"{s.heads} heads, {s.layers}+{s.layers} layers, d_ff {s.d_ff}, dropout 0; one step = "
        "forward + cross-entropy + backward + Adam. Both models use the same embeddings and "
        f"output layer (lib's, tied), post-norm, final LayerNorm; {rounds} alternating rounds. "
        "Ratio = median over rounds of lib / PyTorch (both timed in each round, moments apart). "
        "Details: median (min–max) of lib vs of PyTorch."
    )
    torch.manual_seed(0)
    src = torch.randint(1, s.vocab, (s.batch, s.length))  # id 0 is <pad>
    tgt = torch.randint(1, s.vocab, (s.batch, s.length + 1))
    lib, ref = lib_model(s), TorchSeq2Seq(s)
    t = compare(
        {"lib": step_fn(lib.train(), src, tgt), "torch": step_fn(ref.train(), src, tgt)}, rounds=rounds
    )
    section.rows.append(ratio_row("training step: lib / nn.Transformer", t["lib"], t["torch"], goal=GOAL))
    return section
