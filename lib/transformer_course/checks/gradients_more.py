"""The gradients that reach a model's WEIGHTS, for ``gradients``: where a function takes token
ids only (gpt_forward, encoder_decoder_forward), no input gradient can be compared, and the
weights of the parts it is handed are what trains.

- ``weights_of``: the weights of the modules among the arguments, also inside a dataclass of
  parts or a tuple of blocks, by the part the learner reads them from ("parts.encoder").
- ``cut_weights`` / ``weights_hint``: the parts whose weights get no gradient, or another than
  the reference's, and the hint that names them.
- ``versions``: the version counters of every tensor among the arguments, so that an error in
  backward can be told apart: caused by changing an argument in place, or by the code inside.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn


def weights_of(args: tuple, names) -> dict[tuple[str, str], nn.Parameter]:
    """The weights of the modules among the arguments, also inside a dataclass of parts or a
    tuple of blocks, each once, by (its part as the learner reads it, its name in that part):
    ("parts.encoder", "layers.0.self_attn.w_q.weight"), ("parts.blocks[1]", "norm1.weight")."""
    found: dict[tuple[str, str], nn.Parameter] = {}
    for item, label in zip(args, names, strict=True):
        _collect(item, label, found)
    return found


def _collect(item: object, label: str, found: dict) -> None:
    if isinstance(item, nn.Module):
        for n, p in item.named_parameters():
            tied = next((k for k, q in found.items() if q is p), None)
            if tied is None:
                found[(label, n)] = p
            else:  # one table in two parts (embedding and output): named once, with both
                found[(f"{tied[0]} (also {label}.{n})", tied[1])] = found.pop(tied)
    elif dataclasses.is_dataclass(item) and not isinstance(item, type):
        for f in dataclasses.fields(item):
            _collect(getattr(item, f.name), f"{label}.{f.name}", found)
    elif isinstance(item, list | tuple):
        for i, part in enumerate(item):
            _collect(part, f"{label}[{i}]", found)


def versions(args: tuple) -> list[int]:
    """The version counters of every tensor among the arguments (a module's weights and buffers,
    a dataclass's or a tuple's tensors too): an in-place change bumps its tensor's."""
    found: list[int] = []

    def walk(item: object) -> None:
        if isinstance(item, torch.Tensor):
            found.append(item._version)
        elif isinstance(item, nn.Module):
            found.extend(t._version for t in (*item.parameters(), *item.buffers()))
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            for f in dataclasses.fields(item):
                walk(getattr(item, f.name))
        elif isinstance(item, list | tuple):
            for part in item:
                walk(part)

    for item in args:
        walk(item)
    return found


def cut_weights(mine: dict, theirs: dict) -> tuple[list[str], list[str]]:
    """The parts whose weights get no gradient, and those that get another, among the weights
    the learner's run still trained. Compared only where the reference's gradient is not
    negligible next to the model's largest: an embedding's <pad> row gets none from
    nn.Embedding but one from weight[ids]; a key's bias gets rounding noise (softmax ignores it)."""
    keys = [k for k in theirs if isinstance(k, tuple) and k in mine and theirs[k] is not None]
    scale = max(
        (float(theirs[k].nan_to_num(0, 0, 0).abs().max()) for k in keys if theirs[k].numel()), default=0.0
    )
    none: dict[str, bool] = {}
    wrong: dict[str, bool] = {}
    for key in keys:
        want = theirs[key]
        got = torch.zeros_like(want) if mine[key] is None else mine[key].to(want.dtype)
        live = want.isfinite() & got.isfinite() & (want.abs() > 1e-4 * scale)
        got, want = got[live], want[live]
        if want.numel() == 0:
            continue
        if not bool(got.any()):
            none[key[0]] = True
        elif not torch.allclose(got, want, rtol=1e-2, atol=1e-3 * float(want.abs().max())):
            wrong[key[0]] = True
    return list(none), [part for part in wrong if part not in none]


def weights_hint(name: str, none: list[str], wrong: list[str]) -> str | None:
    """The hint naming the parts whose weights get no gradient, or another (None: neither)."""
    if not none and not wrong:
        return None
    said = [f"the weights of {' and '.join(none)} get no gradient"] if none else []
    said += (
        [f"the weights of {' and '.join(wrong)} get another gradient than the reference's"] if wrong else []
    )
    clue = (
        " The encoder's weights get none when the memory is detached (memory.detach()): the "
        "decoder must read the encoder's output as it is."
        if any(p.endswith(".encoder") for p in none)
        else ""
    )
    return (
        f"{name} has the right values, but in training {' and '.join(said)}: loss.backward() does "
        f"not reach them the way it reaches the reference's, so they would not learn, or learn "
        f"something else.{clue} Somewhere between those weights and the output the gradient is "
        "cut: a .detach(), .data, torch.no_grad(), values rebuilt from .item() / .tolist(), or a "
        "copy (a weight copied into a new layer, a part deep-copied) that gets the gradient in "
        "the model's place. Use the parts you were given as they are, on every path."
    )
