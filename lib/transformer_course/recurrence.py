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
from torch import nn

from . import _validate
from .attention import MultiHeadAttention
from .positional import sinusoidal_encoding

MAX_LENGTH = 10_000  # longest sequence measured: chapter 00 shows 100; 10⁵ tokens take minutes


def _inputs(length: int, d_model: int, seed: int) -> tuple[torch.Tensor, torch.Generator]:
    length = _validate.positive_int("length", length)
    d_model = _validate.positive_int("d_model", d_model)
    seed = _validate.seed("seed", seed)  # an int: manual_seed refuses numpy's
    if length > MAX_LENGTH:  # a backward pass through so many steps (or L² scores) would not end soon
        raise ValueError(f"length must be at most {MAX_LENGTH}, got {length}")
    _validate.fits_in_memory("length × d_model", length * d_model, bytes_each=32)  # x, positions, grads
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(length, d_model, generator=g, dtype=torch.float64)  # (T, d): the tokens
    return x.requires_grad_(), g


def _by_distance(x: torch.Tensor) -> torch.Tensor:
    """x.grad (T, d) → (T,) gradient norms, entry k for the token k steps before the last."""
    return x.grad.norm(dim=1).flip(0)


def tiny_rnn(d_model: int = 16, *, scale: float = 1.0, seed: int = 0) -> nn.RNN:
    """PyTorch's own ``nn.RNN`` (tanh, no bias, float64): h_t = tanh(U x_t + W h_{t-1}).

    W = ``scale`` × a random orthogonal matrix (a rotation or a reflection: the Q of a random
    matrix's QR is either), so every direction of the state is stretched by exactly ``scale``
    per step (before tanh, whose slope is at most 1, shrinks it); U is random with variance
    1/d_model.
    """
    # int(): nn.RNN refuses a numpy int ("input_size should be of type int").
    d_model = _validate.positive_int("d_model", d_model)
    scale = _validate.finite_number("scale", scale, above=0)  # a float: 10**30 × a tensor overflows
    seed = _validate.seed("seed", seed)  # an int: manual_seed refuses numpy's
    # A few (d_model, d_model) float64 matrices at once (the random one, Q and R, W, U): checked
    # before the first is drawn.
    _validate.fits_in_memory("d_model × d_model", d_model * d_model, bytes_each=48)
    g = torch.Generator().manual_seed(seed)
    rotation, _ = torch.linalg.qr(torch.randn(d_model, d_model, generator=g, dtype=torch.float64))
    with torch.random.fork_rng(devices=[]):  # its initial weights (overwritten below) drawn aside
        rnn = nn.RNN(d_model, d_model, nonlinearity="tanh", bias=False, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(scale * rotation)  # W (d, d): state → state
        rnn.weight_ih_l0.copy_(torch.randn(d_model, d_model, generator=g, dtype=torch.float64) / d_model**0.5)
    return rnn


def rnn_gradients(length: int, *, scale: float = 1.0, d_model: int = 16, seed: int = 0) -> torch.Tensor:
    """(length,) gradient reaching each token from ``tiny_rnn``'s last state; entry k: k steps back.
    The tokens come from seed + 1 (``tiny_rnn`` draws W from ``seed``), so they are not
    ``attention_gradients``' tokens for the same seed. ``length`` at most ``MAX_LENGTH``."""
    seed = _validate.seed("seed", seed)  # an int: numpy's uint64 would wrap (with a warning) below
    rnn = tiny_rnn(d_model, scale=scale, seed=seed)
    d_model = rnn.hidden_size  # an int, even when given a numpy one
    inputs_seed = seed + 1 if seed + 1 < 2**64 else seed + 1 - 2**64  # the largest seed works too
    x, g = _inputs(length, d_model, inputs_seed)
    readout = torch.randn(d_model, generator=g, dtype=torch.float64)
    states, _ = rnn(x)  # (T, d): one state per token, computed one step after another
    (readout @ states[-1]).backward()
    return _by_distance(x)


def attention_gradients(length: int, *, d_model: int = 16, num_heads: int = 2, seed: int = 0) -> torch.Tensor:
    """(length,) gradient reaching each token from one self-attention layer's last output;
    entry k: k steps back. The tokens get the sinusoidal positions added, as in chapter 02.
    ``length`` at most ``MAX_LENGTH``."""
    d_model = _validate.positive_int("d_model", d_model)
    # the layer's four (d_model, d_model) projections, in float32 then float64: before x is drawn
    _validate.fits_in_memory("d_model × d_model", 4 * d_model * d_model, bytes_each=12)
    x, g = _inputs(length, d_model, seed)
    length, d_model = x.shape  # ints, even when given numpy ones
    seed = int(seed)  # _inputs checked it
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # the layer's random weights, without disturbing the caller's stream
    layer = MultiHeadAttention(d_model, num_heads).double()
    torch.random.set_rng_state(torch_state)
    readout = torch.randn(d_model, generator=g, dtype=torch.float64)
    positions = sinusoidal_encoding(length, d_model, dtype=torch.float64)
    out, _ = layer((x + positions).unsqueeze(0), need_weights=False)  # (1, T, d)
    (readout @ out[0, -1]).backward()
    return _by_distance(x)
