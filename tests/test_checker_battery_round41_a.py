"""Round 41's battery of wrong answers for exercises 02 (sinusoidal encoding), 03 (attention
scores) and 05 (multi-head attention): each slip a learner types gets the hint that names it,
and right answers written in other styles pass.

The wrong answers here are written apart from the catalogue's own examples, as a learner would
type them, so that a test cannot pass by construction.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.checks.harness import PASSED, WRONG
from transformer_course.checks.registry import EXERCISES


def exercise(name):
    return next(ex for ex in EXERCISES if ex.name == name)


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


# --- Exercise 02: the sinusoidal encoding ---


def _pe(angle, *, odd=torch.cos):
    pe = torch.zeros(angle.shape[0], 2 * angle.shape[1])
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), odd(angle)
    return pe


def _angle(length, d_model):
    return torch.arange(length).float()[:, None] / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)


def _position_loop_one_short(length, d_model):
    pe = torch.zeros(length, d_model)
    for pos in range(length - 1):
        for i in range(0, d_model, 2):
            pe[pos, i] = math.sin(pos / 10000 ** (i / d_model))
            pe[pos, i + 1] = math.cos(pos / 10000 ** (i / d_model))
    return pe


def _pair_loop_one_short(length, d_model):
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(0, d_model - 2, 2):
            pe[pos, i] = math.sin(pos / 10000 ** (i / d_model))
            pe[pos, i + 1] = math.cos(pos / 10000 ** (i / d_model))
    return pe


def _only_sines(length, d_model):
    pe = torch.zeros(length, d_model)
    pe[:, ::2] = _angle(length, d_model).sin()
    return pe


def _rows(length, d_model):
    pe = torch.zeros(length, d_model)
    pe[::2] = _angle(length, d_model).sin()
    return pe


def _no_exp(length, d_model):
    div = torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model)
    return _pe(torch.arange(length).float().unsqueeze(1) * div)


def _log10(length, d_model):
    div = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log10(10000.0) / d_model))
    return _pe(torch.arange(length).float().unsqueeze(1) * div)


def _pos_over_last(length, d_model):
    pos = torch.arange(length).float()[:, None] / (length - 1)
    return _pe(pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model))


def _exponent_linspace(length, d_model):
    return _pe(torch.arange(length).float()[:, None] / 10000 ** torch.linspace(0, 1, d_model // 2))


def _exponent_over_d_minus_1(length, d_model):
    i = torch.arange(d_model // 2).float()
    return _pe(torch.arange(length).float()[:, None] / 10000 ** (2 * i / (d_model - 1)))


def _pairs_from_1(length, d_model):
    two_i = torch.arange(2, d_model + 1, 2).float()
    return _pe(torch.arange(length).float()[:, None] / 10000 ** (two_i / d_model))


def _shifted_sin(length, d_model):
    return _pe(_angle(length, d_model), odd=lambda a: torch.sin(a - math.pi / 2))


def _random_table(length, d_model):
    return torch.randn(length, d_model)


def _notebook_d_model(length, d_model):
    return _pe(_angle(length, 16))  # chapter 02's d_model = 16, not the argument


POSITIONS_SLIPS = [
    (_position_loop_one_short, "last position never written"),
    (_pair_loop_one_short, "last pair never written"),
    (_only_sines, "cosines never written"),
    (_rows, "sines written into rows"),
    (_no_exp, "exp form without the exp"),
    (_log10, "exp form with log10"),
    (_pos_over_last, "positions spread over 0 to 1"),
    (_exponent_linspace, "exponents spread over 0 to 1"),
    (_exponent_over_d_minus_1, "exponents divided by d_model − 1"),
    (_pairs_from_1, "pairs counted from 1"),
    (_shifted_sin, "−cos in the odd columns"),
    (_random_table, "a random table"),
    (_notebook_d_model, "the notebook's sizes"),
]


@pytest.mark.parametrize(("fn", "name"), POSITIONS_SLIPS, ids=[n for _, n in POSITIONS_SLIPS])
def test_a_sinusoidal_slip_gets_its_hint(fn, name):
    result = checks.check_sinusoidal_encoding(fn)
    assert result.status == WRONG and hint_of("sinusoidal_encoding", name) in result.message, result.message


def _numpy_then_torch(length, d_model):
    pos, two_i = np.arange(length)[:, None], np.arange(0, d_model, 2)
    pe = np.zeros((length, d_model))
    pe[:, 0::2], pe[:, 1::2] = (
        np.sin(pos / 10000 ** (two_i / d_model)),
        np.cos(pos / 10000 ** (two_i / d_model)),
    )
    return torch.from_numpy(pe)


def _where(length, d_model):
    j = torch.arange(d_model)
    angle = torch.arange(length)[:, None].double() / 10000 ** ((j - j % 2) / d_model)
    return torch.where(j % 2 == 0, angle.sin(), angle.cos())


def _polar(length, d_model):
    angle = _angle(length, d_model)
    return torch.view_as_real(torch.polar(torch.ones_like(angle), angle)).flip(-1).reshape(length, d_model)


def _outer(length, d_model):
    angle = torch.outer(torch.arange(length).float(), 10000 ** (-torch.arange(0, d_model, 2) / d_model))
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)


POSITIONS_RIGHT = [_numpy_then_torch, _where, _polar, _outer]


@pytest.mark.parametrize("fn", POSITIONS_RIGHT, ids=lambda fn: fn.__name__)
def test_a_sinusoidal_answer_in_another_style_passes(fn):
    result = checks.check_sinusoidal_encoding(fn)
    assert result.status == PASSED, result.message


# --- Exercise 03: the attention scores ---

SCORES_SLIPS = [
    (lambda q, k: torch.matmul(q, k.mT) * k.shape[-1] ** 0.5, "multiplied by √d_k"),
    (lambda q, k: (q[..., :, None, :] - k[..., None, :, :]).norm(dim=-1), "distances"),
    (lambda q, k: -torch.cdist(q, k).pow(2), "minus squared distances"),
    (lambda q, k: F.scaled_dot_product_attention(q, k, k), "the attention's output"),
    (lambda q, k: torch.einsum("...id,...jd->...ij", q, q), "q @ q.T"),
    (
        lambda q, k: torch.cat([q @ k[..., :-1, :].mT, torch.zeros(*q.shape[:-1], 1)], -1),
        "last key never scored",
    ),
    (
        lambda q, k: torch.cat([q[..., :-1, :] @ k.mT, torch.zeros(1, k.shape[-2])], -2),
        "last query never scored",
    ),
    (lambda q, k: (q @ k.mT).exp(), "exponentiated"),
    (lambda q, k: (q @ k.mT).log_softmax(-1), "log-softmax"),
    (lambda q, k: F.softmax(q @ k.mT, dim=-2), "softmax over the queries"),
    (
        lambda q, k: q @ torch.arange(k.shape[-2] * q.shape[-1]).float().view(-1, q.shape[-1]).T,
        "k never read",
    ),
    (lambda q, k: torch.full((q.shape[-2], k.shape[-1]), 1.0) @ k.mT, "q never read"),
    (
        lambda q, k: torch.nn.MultiheadAttention(q.shape[-1], 1, batch_first=True)(q, k, k)[1].detach(),
        "a layer with random weights",
    ),
]


@pytest.mark.parametrize(("fn", "name"), SCORES_SLIPS, ids=[n for _, n in SCORES_SLIPS])
def test_a_scores_slip_gets_its_hint(fn, name):
    result = checks.check_attention_scores(fn)
    assert result.status == WRONG and hint_of("attention_scores", name) in result.message, result.message


SCORES_RIGHT = [
    lambda q, k: torch.matmul(q, torch.swapaxes(k, -1, -2)),
    lambda q, k: (k @ q.mT).mT,
    lambda q, k: (q[..., :, None, :] * k[..., None, :, :]).sum(-1),
    lambda q, k: q @ k.movedim(-1, -2),
    lambda q, k: torch.einsum("...id,...jd->...ij", q.double(), k.double()),
]


@pytest.mark.parametrize("fn", SCORES_RIGHT)
def test_a_scores_answer_in_another_style_passes(fn):
    result = checks.check_attention_scores(fn)
    assert result.status == PASSED, result.message


# --- Exercise 05: multi-head attention ---


def _split(t, h):
    b, length, d = t.shape
    return t.reshape(b, length, h, d // h).permute(0, 2, 1, 3)


def _merge(t):
    return t.permute(0, 2, 1, 3).flatten(2)


def _mha(x, w_q, w_k, w_v, w_o, h, *, norm=lambda s: s.softmax(-1), scale=None, out=True):
    q, k, v = (_split(x @ w, h) for w in (w_q, w_k, w_v))
    root = math.sqrt(q.shape[-1]) if scale is None else scale(q.shape[-1])
    heads = norm(q @ k.mT / root) @ v
    return _merge(heads) @ w_o if out else heads


def _f_linear(x, w_q, w_k, w_v, w_o, h):
    return _mha(x, w_q.T, w_k.T, w_v.T, w_o, h)


def _length_first(x, w_q, w_k, w_v, w_o, h):
    return _mha(x.permute(1, 0, 2), w_q, w_k, w_v, w_o, h).permute(1, 0, 2)


def _last_head_short(x, w_q, w_k, w_v, w_o, h):
    heads = _mha(x, w_q, w_k, w_v, w_o, h, out=False)
    heads[:, h - 1 :] = 0
    return _merge(heads) @ w_o


def _weights(x, w_q, w_k, w_v, w_o, h):
    q, k = _split(x @ w_q, h), _split(x @ w_k, h)
    return F.softmax(torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.shape[-1]), dim=-1)


def _torch_layer(x, w_q, w_k, w_v, w_o, h):
    layer = torch.nn.MultiheadAttention(x.shape[-1], h, batch_first=True)
    return layer(x, x, x, need_weights=False)[0]  # no .detach(): training goes back through it (42b)


MULTI_HEAD_SLIPS = [
    (_f_linear, "Q, K, V with the transposed weights"),
    (_length_first, "x read as (L, B, D)"),
    (lambda *a: _mha(*a, scale=lambda d: d**-0.5), "multiplied by √d_head"),
    (lambda *a: _mha(*a, norm=lambda s: s.softmax(0)), "softmax over the batch"),
    (lambda *a: _mha(*a, norm=lambda s: s), "no softmax"),
    (lambda *a: _mha(*a, out=False), "the heads returned unmerged"),
    (_weights, "the weights returned"),
    (_last_head_short, "last head never computed"),
    (lambda x, *a: F.layer_norm(_mha(x, *a) + x, (x.shape[-1],)), "Add & Norm applied"),
    (_torch_layer, "none of the weights read"),
    (
        lambda x, w_q, w_k, w_v, w_o, h: _mha(x, *[torch.eye(x.shape[-1])] * 3, w_o, h),
        "no Q, K, V projections",
    ),
    (lambda x, w_q, w_k, w_v, w_o, h: _mha(x, w_v, w_k, w_v, w_o, h), "w_q never read"),
    (lambda x, w_q, w_k, w_v, w_o, h: _mha(x, w_q, w_v, w_v, w_o, h), "w_k never read"),
    (lambda x, w_q, w_k, w_v, w_o, h: _mha(x, w_q, w_k, torch.eye(x.shape[-1]), w_o, h), "w_v never read"),
]


@pytest.mark.parametrize(("fn", "name"), MULTI_HEAD_SLIPS, ids=[n for _, n in MULTI_HEAD_SLIPS])
def test_a_multi_head_slip_gets_its_hint(fn, name):
    result = checks.check_multi_head_attention(fn)
    assert result.status == WRONG and hint_of("multi_head_attention", name) in result.message, result.message


def test_dropout_left_on_is_still_named_after_the_weights_checks():
    """Dropout moved behind the checks for unread weights: it keeps its own hint."""
    result = checks.check_multi_head_attention(lambda *a: F.dropout(_mha(*a), 0.2))
    assert hint_of("multi_head_attention", "draws at random") in result.message, result.message


def _w_o_by_head(x, w_q, w_k, w_v, w_o, h):
    heads = _mha(x, w_q, w_k, w_v, w_o, h, out=False)
    d_head = heads.shape[-1]
    return sum(heads[:, i] @ w_o[i * d_head : (i + 1) * d_head] for i in range(h))


def _torch_layer_loaded(x, w_q, w_k, w_v, w_o, h):
    layer = torch.nn.MultiheadAttention(x.shape[-1], h, batch_first=True, bias=False)
    with torch.no_grad():
        layer.in_proj_weight.copy_(torch.cat([w_q.T, w_k.T, w_v.T]))
        layer.out_proj.weight.copy_(w_o.T)
    return layer(x, x, x, need_weights=False)[0]  # no .detach(): training goes back through it (42b)


MULTI_HEAD_RIGHT = [
    _mha,
    _w_o_by_head,
    _torch_layer_loaded,
    lambda x, w_q, w_k, w_v, w_o, h: F.linear(_mha(x, w_q, w_k, w_v, torch.eye(x.shape[-1]), h), w_o.T),
    lambda x, *w: torch.stack([_mha(row[None], *w)[0] for row in x]),
    lambda x, *w: _mha(x.double(), *(t.double() if torch.is_tensor(t) else t for t in w)),
]


@pytest.mark.parametrize("fn", MULTI_HEAD_RIGHT)
def test_a_multi_head_answer_in_another_style_passes(fn):
    result = checks.check_multi_head_attention(fn)
    assert result.status == PASSED, result.message
