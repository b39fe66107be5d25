"""Why a recurrent network forgets and attention does not: the gradient against distance (chapter 00).

A recurrent network (RNN) reads one token per step, h_t = tanh(W h_{t-1} + U x_t). The
gradient from its last state back to token t passes through every step in between: one
multiplication by W, and by tanh's slope (at most 1), per step. A self-attention layer
joins the last position to every token in one step, however far back it is.

``rnn_gradients`` and ``attention_gradients`` measure this with autograd: a fixed random
readout of the last position's output is back-propagated, and the size of the gradient
reaching each input token is returned, indexed by its distance from the last token.
Both work in float64, so a gradient of 1e-40 is still a number and not 0.
"""

from __future__ import annotations

import torch

from . import _validate
from .attention import MultiHeadAttention
from .positional import sinusoidal_encoding


def _inputs(length: int, d_model: int, seed: int) -> tuple[torch.Tensor, torch.Generator]:
    _validate.positive_int("length", length)
    _validate.positive_int("d_model", d_model)
    _validate.integer("seed", seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(length, d_model, generator=g, dtype=torch.float64)  # (T, d): the tokens
    return x.requires_grad_(), g


def _by_distance(x: torch.Tensor) -> torch.Tensor:
    """x.grad (T, d) → (T,) gradient norms, entry k for the token k steps before the last."""
    return x.grad.norm(dim=1).flip(0)


def rnn_gradients(length: int, *, scale: float = 1.0, d_model: int = 16, seed: int = 0) -> torch.Tensor:
    """(length,) gradient reaching each token from a tanh RNN's last state; entry k: k steps back.

    W = ``scale`` × a random rotation, so every direction of the state is stretched by
    exactly ``scale`` per step (before tanh, which can only shrink it); U is random with
    variance 1/d_model.
    """
    _validate.finite_number("scale", scale, above=0)
    x, g = _inputs(length, d_model, seed)
    rotation, _ = torch.linalg.qr(torch.randn(d_model, d_model, generator=g, dtype=torch.float64))
    w = scale * rotation  # (d, d): state → state
    u = (
        torch.randn(d_model, d_model, generator=g, dtype=torch.float64) / d_model**0.5
    )  # (d, d): token → state
    readout = torch.randn(d_model, generator=g, dtype=torch.float64)
    h = torch.zeros(d_model, dtype=torch.float64)
    for t in range(length):  # one token per step: step t cannot start before step t-1 ends
        h = torch.tanh(w @ h + u @ x[t])
    (readout @ h).backward()
    return _by_distance(x)


def attention_gradients(length: int, *, d_model: int = 16, num_heads: int = 2, seed: int = 0) -> torch.Tensor:
    """(length,) gradient reaching each token from one self-attention layer's last output;
    entry k: k steps back. The tokens get the sinusoidal positions added, as in chapter 02."""
    x, g = _inputs(length, d_model, seed)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # the layer's random weights, without disturbing the caller's stream
    layer = MultiHeadAttention(d_model, num_heads).double()
    torch.random.set_rng_state(torch_state)
    readout = torch.randn(d_model, generator=g, dtype=torch.float64)
    positions = sinusoidal_encoding(length, d_model, dtype=torch.float64)
    out, _ = layer((x + positions).unsqueeze(0), need_weights=False)  # (1, T, d)
    (readout @ out[0, -1]).backward()
    return _by_distance(x)
