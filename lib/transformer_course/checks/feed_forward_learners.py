"""Answers learners write for the feed-forward exercise, as code: right ones in other styles,
and the wrong ones that ``feed_forward_slips`` names (each Mistake's example)."""

from __future__ import annotations

import math

import torch
from torch import nn

# --- Right answers in other styles ---


def with_where(x, w_1, b_1, w_2, b_2):
    hidden = x @ w_1 + b_1
    return torch.where(hidden > 0, hidden, 0.0) @ w_2 + b_2  # max(0, h), written out


def with_tensordot(x, w_1, b_1, w_2, b_2):
    hidden = torch.tensordot(x, w_1, dims=1) + b_1  # sums x's last axis with w_1's first
    return torch.tensordot(hidden.clamp(min=0), w_2, dims=1) + b_2


def with_sequential(x, w_1, b_1, w_2, b_2):
    net = nn.Sequential(nn.Linear(*w_1.shape), nn.ReLU(), nn.Linear(*w_2.shape))
    with torch.no_grad():  # nn.Linear keeps its matrix as (out, in): the transposes
        net[0].weight.copy_(w_1.T), net[0].bias.copy_(b_1)
        net[2].weight.copy_(w_2.T), net[2].bias.copy_(b_2)
    return net(x)


# --- Wrong answers (met in the round-41 battery) ---


def uses_new_linear_layers(x, w_1, b_1, w_2, b_2):
    first, second = nn.Linear(*w_1.shape), nn.Linear(*w_2.shape)  # random weights of their own
    return second(torch.relu(first(x)))


def multiplies_entry_by_entry(x, w_1, b_1, w_2, b_2):
    return torch.relu(x * w_1 + b_1) * w_2 + b_2  # * where @ was meant


def takes_torch_max(x, w_1, b_1, w_2, b_2):
    hidden = torch.max(x @ w_1 + b_1, 0)  # meant max(0, h)
    return hidden @ w_2 + b_2


def takes_pythons_max(x, w_1, b_1, w_2, b_2):
    return max(x @ w_1 + b_1, 0) @ w_2 + b_2  # ReLU as on paper, max(0, h)


def takes_torch_maximum_of_a_number(x, w_1, b_1, w_2, b_2):
    return torch.maximum(x @ w_1 + b_1, 0) @ w_2 + b_2


def uses_torch_mm(x, w_1, b_1, w_2, b_2):
    return torch.mm(torch.relu(torch.mm(x, w_1) + b_1), w_2) + b_2


def writes_einsum_the_linear_way(x, w_1, b_1, w_2, b_2):
    hidden = torch.relu(torch.einsum("...d,fd->...f", x, w_1) + b_1)  # nn.Linear's (out, in)
    return torch.einsum("...f,df->...d", hidden, w_2) + b_2


def reshapes_to_d_ff(x, w_1, b_1, w_2, b_2):
    rows = x.reshape(-1, x.shape[-1])
    out = torch.relu(rows @ w_1 + b_1) @ w_2 + b_2
    return out.reshape(*x.shape[:-1], w_2.shape[0])  # w_2.shape[0] is d_ff


def reuses_w_1(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1 + b_1) @ w_1.T + b_2  # the second layer's weights are w_2


def relu_on_input_and_hidden(x, w_1, b_1, w_2, b_2):
    return torch.relu(torch.relu(x) @ w_1 + b_1) @ w_2 + b_2


def subtracts_the_biases(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1 - b_1) @ w_2 - b_2


def scales_like_attention(x, w_1, b_1, w_2, b_2):
    hidden = torch.relu(x @ w_1 + b_1)
    return hidden @ w_2 / math.sqrt(w_2.shape[0]) + b_2  # √d_ff: attention's scaling


def loop_stops_one_short(x, w_1, b_1, w_2, b_2):
    rows = x.reshape(-1, x.shape[-1]).clone()
    for i in range(len(rows) - 1):  # one short: the last position is never computed
        rows[i] = torch.relu(rows[i] @ w_1 + b_1) @ w_2 + b_2
    return rows.reshape(x.shape)


def takes_the_absolute_value(x, w_1, b_1, w_2, b_2):
    return (x @ w_1 + b_1).abs() @ w_2 + b_2


def writes_the_chapters_d_model(x, w_1, b_1, w_2, b_2):
    rows = x.reshape(-1, 16)  # the chapter's d_model, written in
    return (torch.relu(rows @ w_1 + b_1) @ w_2 + b_2).reshape(x.shape)


def caps_the_relu(x, w_1, b_1, w_2, b_2):
    return torch.clamp(x @ w_1 + b_1, 0, 1) @ w_2 + b_2  # "ReLU: negatives to 0"


def gates_the_hidden_layer(x, w_1, b_1, w_2, b_2):
    hidden = x @ w_1 + b_1
    return (hidden * torch.nn.functional.silu(hidden)) @ w_2 + b_2  # a gate, as in SwiGLU


def normalises_the_hidden_layer(x, w_1, b_1, w_2, b_2):
    hidden = torch.relu(x @ w_1 + b_1)
    mean, std = hidden.mean(-1, keepdim=True), hidden.std(-1, keepdim=True, unbiased=False)
    return (hidden - mean) / (std + 1e-5) @ w_2 + b_2


# --- Round 43: another right answer, in a style not registered before ---
def addmm_on_flattened_rows(x, w_1, b_1, w_2, b_2):
    """Every position a row of one matrix: torch.addmm(bias, rows, W) twice."""
    rows = x.reshape(-1, x.shape[-1])
    hidden = torch.addmm(b_1, rows, w_1).relu()
    return torch.addmm(b_2, hidden, w_2).reshape(*x.shape[:-1], -1)
