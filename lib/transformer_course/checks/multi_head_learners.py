"""The wrong answers learners write for ``multi_head``, as code: each Mistake's example.

Heads split and merged with one switch per mistake (``by_hand``), the correct answers of lib's
module, a loop over the heads and the fused kernel, then splits that are written out wrong, and
last answers that read chapter 05's own ``h`` and ``d_head``. The two examples that call the
worked solution stay in ``multi_head``, which imports this module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..attention import MultiHeadAttention, scaled_dot_product_attention


def by_hand(
    x,
    w_q,
    w_k,
    w_v,
    w_o,
    num_heads,
    *,
    split_view=False,
    merge_view=False,
    shared=False,
    project=True,
    scale_by_model=False,
    no_transpose=False,
    input_slices=False,
    scale=True,
    dim=-1,
    fixed_d_head=None,
    dropout=False,
    w_o_per_head=False,
):
    """A learner's multi-head attention with one switch per catalogued mistake (all off: correct)."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads if fixed_d_head is None else fixed_d_head  # a notebook's own

    def split(t):
        if split_view:
            return t.view(b, num_heads, length, d_head)
        if no_transpose:
            return t.view(b, length, num_heads, d_head)
        return t.view(b, length, num_heads, d_head).transpose(1, 2)

    if shared:
        q, k, v = (torch.stack([x @ w[:, :d_head]] * num_heads, dim=1) for w in (w_q, w_k, w_v))
    elif input_slices:  # as in a well-known tutorial: slice x into heads, one small shared W
        xs = x.view(b, length, num_heads, d_head).transpose(1, 2)
        q, k, v = (xs @ w[:d_head, :d_head] for w in (w_q, w_k, w_v))
    else:
        q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    d = d_model if scale_by_model else d_head
    scores = (q @ k.transpose(-2, -1)) if no_transpose else torch.einsum("bhqd,bhkd->bhqk", q, k)
    weights = torch.softmax(scores / ((d if scale == "no root" else d**0.5) if scale else 1.0), dim=dim)
    weights = F.dropout(weights, 0.1) if dropout else weights  # as in training, left on
    out = weights @ v
    if w_o_per_head:  # W_O on each head's (L, d_head) output, before the merge
        out = out @ w_o
    if no_transpose:
        merged = out.reshape(b, length, d_model)
    elif merge_view:
        merged = out.reshape(b, length, d_model)
    else:
        merged = out.transpose(1, 2).contiguous().view(b, length, d_model)
    return merged @ w_o if project else merged


# --- Other correct answers ---


def with_lib_module(x, w_q, w_k, w_v, w_o, num_heads):
    """The lib's module with the same weights (nn.Linear stores W transposed)."""
    mha = MultiHeadAttention(x.shape[-1], num_heads, bias=False)
    with torch.no_grad():
        for proj, w in zip((mha.q_proj, mha.k_proj, mha.v_proj, mha.out_proj), (w_q, w_k, w_v, w_o)):
            proj.weight.copy_(w.T)
    return mha(x)[0]  # outside no_grad: training goes back through it


def head_by_head(x, w_q, w_k, w_v, w_o, num_heads):
    """A loop over the heads, each with its own columns of the projections, then torch.cat."""
    d_head = x.shape[-1] // num_heads
    heads = []
    for i in range(num_heads):
        cols = slice(i * d_head, (i + 1) * d_head)
        q, k, v = x @ w_q[:, cols], x @ w_k[:, cols], x @ w_v[:, cols]
        heads.append(scaled_dot_product_attention(q, k, v)[0])  # (B, L, d_head)
    return torch.cat(heads, dim=-1) @ w_o


def with_fused_kernel(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    q, k, v = (
        (x @ w).view(b, length, num_heads, d_model // num_heads).transpose(1, 2) for w in (w_q, w_k, w_v)
    )
    out = F.scaled_dot_product_attention(q, k, v)  # (B, h, L, d_head)
    return out.transpose(1, 2).reshape(b, length, d_model) @ w_o


# --- The wrong answers, each a Mistake's example ---


def divides_with_a_slash(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model / num_heads  # a float, even when it divides exactly
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    out = torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1) @ v
    return out.transpose(1, 2).reshape(b, length, d_model) @ w_o


def views_after_the_transpose(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    out = torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1) @ v
    return out.transpose(1, 2).view(b, length, d_model) @ w_o  # not contiguous after transpose


def uses_one_wide_head(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # never split
    d_head = x.shape[-1] // num_heads
    return torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1) @ v @ w_o


def interleaves_the_heads(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads

    def split(t):  # "d_head numbers, then the head": the wrong order of the two axes
        return t.view(b, length, d_head, num_heads).permute(0, 3, 1, 2)

    q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    out = torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1) @ v  # (B, h, L, d_head)
    return out.permute(0, 2, 3, 1).reshape(b, length, d_model) @ w_o


def interleaves_on_the_split(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, d_head, num_heads).permute(0, 3, 1, 2) for w in (w_q, w_k, w_v))
    out = torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1) @ v  # (B, h, L, d_head)
    return out.transpose(1, 2).reshape(b, length, d_model) @ w_o  # the usual merge


def masks_the_future(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    q, k, v = ((x @ w).view(b, length, num_heads, -1).transpose(1, 2) for w in (w_q, w_k, w_v))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # kept from a GPT's code
    return out.transpose(1, 2).reshape(b, length, d_model) @ w_o


def transposes_k_as_in_3d(x, w_q, w_k, w_v, w_o, num_heads):
    """k.transpose(1, 2), right for (B, L, d) keys, swaps heads and tokens on (B, h, L, d)."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q = (x @ w_q).view(b, length, num_heads, d_head).transpose(1, 2)
    k = (x @ w_k).view(b, length, num_heads, d_head).transpose(1, 2)
    v = (x @ w_v).view(b, length, num_heads, d_head).transpose(1, 2)
    weights = torch.softmax(q @ k.transpose(1, 2) / d_head**0.5, dim=-1)
    return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o


# --- Met in the seventh audit ---


def _split(t, num_heads):  # (B, L, D) → (B, h, L, d_head)
    b, length, d_model = t.shape
    return t.view(b, length, num_heads, d_model // num_heads).transpose(1, 2)


def _attend(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1) @ v


def joins_the_heads_backwards(x, w_q, w_k, w_v, w_o, num_heads):
    heads = _attend(_split(x @ w_q, num_heads), _split(x @ w_k, num_heads), _split(x @ w_v, num_heads))
    outs = [heads[:, i] for i in range(num_heads)]
    return torch.cat(outs[::-1], dim=-1) @ w_o  # reversed: last head first


def scales_by_the_number_of_heads(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_split(x @ w, num_heads) for w in (w_q, w_k, w_v))
    heads = torch.softmax(q @ k.transpose(-2, -1) / num_heads**0.5, dim=-1) @ v
    return heads.transpose(1, 2).flatten(2) @ w_o


def merges_with_the_heads_last(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    heads = _attend(*(_split(x @ w, num_heads) for w in (w_q, w_k, w_v)))  # (B, h, L, d)
    return heads.permute(0, 2, 3, 1).reshape(b, length, d_model) @ w_o  # (B, L, d, h)


def chunks_the_tokens(x, w_q, w_k, w_v, w_o, num_heads):
    outs = []
    for q, k, v in zip(*((x @ w).chunk(num_heads, dim=1) for w in (w_q, w_k, w_v))):
        outs.append(torch.softmax(q @ k.transpose(-2, -1) / (x.shape[-1] // num_heads) ** 0.5, -1) @ v)
    return torch.cat(outs, dim=1) @ w_o  # chunk(dim=1) cuts the sentence, not the features


def scales_the_output(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_split(x @ w, num_heads) for w in (w_q, w_k, w_v))
    heads = torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v / q.shape[-1] ** 0.5
    return heads.transpose(1, 2).flatten(2) @ w_o


def adds_the_input(x, w_q, w_k, w_v, w_o, num_heads):
    heads = _attend(*(_split(x @ w, num_heads) for w in (w_q, w_k, w_v)))
    return x + heads.transpose(1, 2).flatten(2) @ w_o  # the residual belongs to the layer


def projects_v_with_w_k(x, w_q, w_k, w_v, w_o, num_heads):
    heads = _attend(*(_split(x @ w, num_heads) for w in (w_q, w_k, w_k)))  # copy-paste: w_k twice
    return heads.transpose(1, 2).flatten(2) @ w_o


# --- Met in the twelfth audit: names kept from chapter 05's own cells ---

NOTEBOOK_H, NOTEBOOK_D_HEAD = 2, 6  # chapter 05's cells: d_model 12, 2 heads of 6 numbers


def uses_the_notebooks_h(x, w_q, w_k, w_v, w_o, num_heads):
    heads = _attend(*(_split(x @ w, NOTEBOOK_H) for w in (w_q, w_k, w_v)))  # h, not num_heads
    return heads.transpose(1, 2).flatten(2) @ w_o


def scales_by_the_notebooks_d_head(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_split(x @ w, num_heads) for w in (w_q, w_k, w_v))
    heads = torch.softmax(q @ k.transpose(-2, -1) / NOTEBOOK_D_HEAD**0.5, dim=-1) @ v  # the notebook's
    return heads.transpose(1, 2).flatten(2) @ w_o


def puts_the_keys_first(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_split(x @ w, num_heads) for w in (w_q, w_k, w_v))
    heads = torch.softmax(k @ q.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1) @ v  # K Qᵀ
    return heads.transpose(1, 2).flatten(2) @ w_o


# --- Met in round 41's battery of wrong answers ---


def projects_with_f_linear(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_split(F.linear(x, w), num_heads) for w in (w_q, w_k, w_v))  # F.linear: x @ w.T
    return _attend(q, k, v).transpose(1, 2).flatten(2) @ w_o


def reads_x_as_length_first(x, w_q, w_k, w_v, w_o, num_heads):
    """PyTorch's nn.MultiheadAttention without batch_first reads (L, B, D): the same mix-up by hand."""
    length, b, d_model = x.shape  # x is (B, L, D)
    q, k, v = ((x @ w).view(length, b, num_heads, -1).permute(1, 2, 0, 3) for w in (w_q, w_k, w_v))
    return _attend(q, k, v).permute(2, 0, 1, 3).reshape(length, b, d_model) @ w_o


def multiplies_by_the_root(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_split(x @ w, num_heads) for w in (w_q, w_k, w_v))
    heads = torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** 0.5, dim=-1) @ v  # meant ÷
    return heads.transpose(1, 2).flatten(2) @ w_o


def softmax_over_dim_0(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_split(x @ w, num_heads) for w in (w_q, w_k, w_v))
    heads = F.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=0) @ v  # dim 0: the batch
    return heads.transpose(1, 2).flatten(2) @ w_o


def leaves_out_the_softmax(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_split(x @ w, num_heads) for w in (w_q, w_k, w_v))
    heads = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5) @ v
    return heads.transpose(1, 2).flatten(2) @ w_o


def returns_the_heads(x, w_q, w_k, w_v, w_o, num_heads):
    return _attend(*(_split(x @ w, num_heads) for w in (w_q, w_k, w_v)))  # (B, h, L, d_head)


def returns_the_weights(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, _ = (_split(x @ w, num_heads) for w in (w_q, w_k, w_v))
    return torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1)


def stops_one_head_short(x, w_q, w_k, w_v, w_o, num_heads):
    d_head = x.shape[-1] // num_heads
    heads = []
    for i in range(num_heads - 1):  # the last head is never computed
        cols = slice(i * d_head, (i + 1) * d_head)
        heads.append(_attend(x @ w_q[:, cols], x @ w_k[:, cols], x @ w_v[:, cols]))
    heads.append(torch.zeros_like(heads[0]))  # its place left at 0, so the sizes fit
    return torch.cat(heads, dim=-1) @ w_o


def adds_and_normalises(x, w_q, w_k, w_v, w_o, num_heads):
    out = _attend(*(_split(x @ w, num_heads) for w in (w_q, w_k, w_v))).transpose(1, 2).flatten(2) @ w_o
    return F.layer_norm(x + out, x.shape[-1:])  # chapter 07's Add & Norm, too early


def uses_pytorchs_layer(x, w_q, w_k, w_v, w_o, num_heads):
    mha = torch.nn.MultiheadAttention(x.shape[-1], num_heads, bias=False, batch_first=True)
    return mha(x, x, x)[0].detach()  # its own random weights, not w_q, w_k, w_v, w_o


def attends_over_x_itself(x, w_q, w_k, w_v, w_o, num_heads):
    heads = _attend(_split(x, num_heads), _split(x, num_heads), _split(x, num_heads))  # no W_Q, W_K, W_V
    return heads.transpose(1, 2).flatten(2) @ w_o


def projects_q_with_w_k(x, w_q, w_k, w_v, w_o, num_heads):
    heads = _attend(*(_split(x @ w, num_heads) for w in (w_k, w_k, w_v)))  # copy-paste: w_k for Q
    return heads.transpose(1, 2).flatten(2) @ w_o


def projects_k_with_w_q(x, w_q, w_k, w_v, w_o, num_heads):
    heads = _attend(*(_split(x @ w, num_heads) for w in (w_q, w_q, w_v)))  # copy-paste: w_q for K
    return heads.transpose(1, 2).flatten(2) @ w_o


def leaves_v_unprojected(x, w_q, w_k, w_v, w_o, num_heads):
    heads = _attend(_split(x @ w_q, num_heads), _split(x @ w_k, num_heads), _split(x, num_heads))
    return heads.transpose(1, 2).flatten(2) @ w_o
