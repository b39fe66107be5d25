"""Answers learners write for the layer-norm exercise, as code: right ones in other styles, and
the wrong ones that ``layer_norm_slips`` names (each Mistake's example)."""

from __future__ import annotations

import torch
from torch import nn

# --- Right answers in other styles ---


def token_by_token(x, weight, bias, eps):
    rows = x.reshape(-1, x.shape[-1])
    out = [(r - r.mean()) / torch.sqrt(((r - r.mean()) ** 2).mean() + eps) * weight + bias for r in rows]
    return torch.stack(out).reshape(x.shape)


def with_a_module(x, weight, bias, eps):
    norm = nn.LayerNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        norm.weight.copy_(weight), norm.bias.copy_(bias)
    return norm(x)


def fresh_module_then_scaled(x, weight, bias, eps):
    return nn.LayerNorm(x.shape[-1], eps=eps)(x) * weight + bias  # scale 1, shift 0, then ours


# --- Wrong answers (met in the round-41 battery) ---


def _stats(x):
    return x.mean(dim=-1, keepdim=True), x.var(dim=-1, unbiased=False, keepdim=True)


def multiplies_by_weight_as_a_matrix(x, weight, bias, eps):
    mean, var = _stats(x)
    return (x - mean) / torch.sqrt(var + eps) @ weight + bias  # "x̂ · weight" read as a dot product


def uses_the_notebooks_norm(x, weight, bias, eps):
    norm_weight, norm_bias = torch.ones(16), torch.zeros(16)  # the chapter's nn.LayerNorm(16)
    mean, var = _stats(x)
    return (x - mean) / torch.sqrt(var + eps) * norm_weight + norm_bias


def forgets_the_brackets(x, weight, bias, eps):
    mean, var = _stats(x)
    return (x - mean / torch.sqrt(var + eps)) * weight + bias  # / before -


def roots_the_std(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdim=True)
    std = x.std(dim=-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(std + eps) * weight + bias  # the std is a root already


def subtracts_eps(x, weight, bias, eps):
    mean, var = _stats(x)
    return (x - mean) / torch.sqrt(var - eps) * weight + bias


def multiplies_by_the_std(x, weight, bias, eps):
    mean, var = _stats(x)
    return (x - mean) * torch.sqrt(var + eps) * weight + bias


def divides_by_the_batch_size(x, weight, bias, eps):
    mean = x.sum(dim=-1, keepdim=True) / x.shape[-1]
    var = ((x - mean) ** 2).sum(dim=-1, keepdim=True) / x.shape[0]  # shape[0]: not d
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def normalises_the_whole_shape(x, weight, bias, eps):
    return nn.LayerNorm(x.shape, eps=eps)(x)  # every axis, and a fresh scale and shift


# --- Round 43: another right answer, in a style not registered before ---
def group_norm_of_one_group(x, weight, bias, eps):
    """GroupNorm with a single group normalises each row over all its d channels: LayerNorm."""
    rows = x.reshape(-1, x.shape[-1])  # (N, d)
    return torch.nn.functional.group_norm(rows, 1, weight, bias, eps).reshape(x.shape)
