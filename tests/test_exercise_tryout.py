"""A learner's tryout: realistic wrong answers, written without looking at the catalogues.

Each wrong answer must be rejected, with either the hint of the mistake it really is
(``named=``) or an honest generic message (where the result differs, or what raised) and no
catalogue hint at all: never a pass, never a misleading hint. The first tryout (100 answers)
found two passes (a padding id hard-coded as 0, in the masks and the loss) and four
misleading or inaccurate messages; the checkers were fixed, and several of these answers
became catalogued mistakes (their ``named=``).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks import ERROR, WRONG, exercise
from transformer_course.masks import causal_mask, padding_mask

TRYOUT = []


def wrong(name, description, named=None):
    """Register a wrong answer to exercise ``name``; ``named``: the mistake it must be called."""

    def register(fn):
        TRYOUT.append(pytest.param(name, fn, named, id=f"{name}: {description}"))
        return fn

    return register


def rows(v):
    return v / v.norm(dim=1, keepdim=True)


# --- 01 cosine similarity ---


@wrong("cosine_similarity", "cosine distance 1 - cos", named="cosine distance")
def _(v):
    return 1 - rows(v) @ rows(v).T


@wrong("cosine_similarity", "abs of the cosines", named="absolute value")
def _(v):
    return (rows(v) @ rows(v).T).abs()


@wrong("cosine_similarity", "L1 norm", named="L1 lengths")
def _(v):
    unit = v / v.abs().sum(dim=1, keepdim=True)
    return unit @ unit.T


@wrong("cosine_similarity", "1 added to each length")
def _(v):
    unit = v / (v.norm(dim=1, keepdim=True) + 1)
    return unit @ unit.T


@wrong("cosine_similarity", "F.cosine_similarity(v, v): each row with itself", named="each row with itself")
def _(v):
    return F.cosine_similarity(v, v, dim=1)


@wrong("cosine_similarity", "softmax over the similarities", named="softmax of the similarities")
def _(v):
    return torch.softmax(rows(v) @ rows(v).T, dim=-1)


@wrong("cosine_similarity", "second factor not normalised", named="divided once")
def _(v):
    return rows(v) @ v.T


# --- 02 sinusoidal encoding ---


def table(length, d_model, two_i, *, sin=torch.sin, cos=torch.cos, angle=None):
    pos = torch.arange(length).float()[:, None]
    a = pos / 10000 ** (two_i / d_model) if angle is None else angle(pos, two_i)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = sin(a), cos(a)
    return pe


@wrong("sinusoidal_encoding", "odd indices for 2i", named="odd exponents for both")
def _(n, d):
    return table(n, d, torch.arange(1, d, 2).float())


@wrong("sinusoidal_encoding", "sin in both columns", named="no cosines")
def _(n, d):
    return table(n, d, torch.arange(0, d, 2).float(), cos=torch.sin)


@wrong("sinusoidal_encoding", "integer division in the exponent", named="integer division")
def _(n, d):
    return table(n, d, torch.arange(0, d, 2), angle=lambda pos, two_i: pos / 10000 ** (two_i // d).float())


@wrong("sinusoidal_encoding", "table transposed, (d_model, length)")
def _(n, d):
    return table(n, d, torch.arange(0, d, 2).float()).T


@wrong("sinusoidal_encoding", "only the sines, (length, d_model / 2)")
def _(n, d):
    return torch.sin(torch.arange(n).float()[:, None] / 10000 ** (torch.arange(0, d, 2).float() / d))


@wrong("sinusoidal_encoding", "one position too many", named="one position too many")
def _(n, d):
    return table(n + 1, d, torch.arange(0, d, 2).float())


@wrong("sinusoidal_encoding", "angles taken as degrees", named="angles turned into radians")
def _(n, d):
    def angle(pos, two_i):
        return torch.deg2rad(pos / 10000 ** (two_i / d))

    return table(n, d, torch.arange(0, d, 2).float(), angle=angle)


# --- 03 attention scores ---


@wrong("attention_scores", "elementwise product summed", named="each query against its own position's key")
def _(q, k):
    return (q * k).sum(-1)


@wrong("attention_scores", "transpose(0, 1) instead of the last two", named="k.T on a batch")
def _(q, k):
    return q @ k.transpose(0, 1)


@wrong("attention_scores", 'einsum("qd,kd->qk"), 2-D letters', named="k.T on a batch")
def _(q, k):
    return torch.einsum("qd,kd->qk", q, k)


@wrong("attention_scores", "torch.inner", named="k.T on a batch")
def _(q, k):
    return torch.inner(q, k)


@wrong("attention_scores", "divided by d_k", named="divided by d_k")
def _(q, k):
    return q @ k.transpose(-2, -1) / q.shape[-1]


@wrong("attention_scores", "torch.bmm, 3-D only", named="dimensions counted for a batch only")
def _(q, k):
    return torch.bmm(q, k.transpose(1, 2))


@wrong("attention_scores", "softmax already applied", named="softmax applied")
def _(q, k):
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1)


@wrong("attention_scores", "einsum output letters swapped", named="queries and keys swapped")
def _(q, k):
    return torch.einsum("...qd,...kd->...kq", q, k)


# --- 04 softmax ---


def normalised(e):
    return e / e.sum(dim=-1, keepdim=True)


@wrong("softmax", "max without .values", named="max without .values")
def _(x):
    return normalised((x - x.max(dim=-1, keepdim=True)).exp())


@wrong("softmax", "denominator not shifted", named="max subtracted in the numerator only")
def _(x):
    return (x - x.max(dim=-1, keepdim=True).values).exp() / x.exp().sum(dim=-1, keepdim=True)


@wrong("softmax", "log-softmax returned", named="log-probabilities")
def _(x):
    return x - x.logsumexp(dim=-1, keepdim=True)


@wrong("softmax", "dim=1 for the max and the sum", named="max over dim=1 on a batch")
def _(x):
    e = (x - x.max(dim=1, keepdim=True).values).exp()
    return e / e.sum(dim=1, keepdim=True)


@wrong("softmax", "the max as a column with [:, None]", named="max over dim=1 on a batch")
def _(x):
    e = (x - x.max(dim=-1).values[:, None]).exp()
    return e / e.sum(dim=-1, keepdim=True)


@wrong("softmax", "divided by the max", named="divided by the max")
def _(x):
    return normalised((x / x.max(dim=-1, keepdim=True).values).exp())


@wrong("softmax", "column max subtracted", named="column max, row sum")
def _(x):
    return normalised((x - x.max(dim=0, keepdim=True).values).exp())


@wrong("softmax", "2 ** x instead of exp", named="powers of 2 or 10")
def _(x):
    return normalised(2 ** (x - x.max(dim=-1, keepdim=True).values))


# --- 04 one head ---


def head(x, w_q, w_k, w_v, *, weights_of=None, out_of=None):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / math.sqrt(q.shape[-1])
    w = torch.softmax(scores, dim=-1) if weights_of is None else weights_of(scores)
    return (w @ v if out_of is None else out_of(w, x, v)), w


@wrong("attention", "the scores returned as the weights")
def _(x, w_q, w_k, w_v):
    out, w = head(x, w_q, w_k, w_v)
    return out, torch.logit(w)  # "undo the softmax": the scores, up to a shift


@wrong("attention", "x @ w_q.T", named="a matrix product that does not fit")
def _(x, w_q, w_k, w_v):
    return head(x, w_q.T, w_k.T, w_v.T)


@wrong("attention", "V projected with W_K", named="V projected with W_K")
def _(x, w_q, w_k, w_v):
    return head(x, w_q, w_k, w_k)


@wrong("attention", "Q projected with W_K", named="Q projected with W_K")
def _(x, w_q, w_k, w_v):
    return head(x, w_k, w_k, w_v)


@wrong("attention", "weights transposed in the return", named="weights transposed")
def _(x, w_q, w_k, w_v):
    out, w = head(x, w_q, w_k, w_v)
    return out, w.T


@wrong("attention", "no softmax", named="no softmax")
def _(x, w_q, w_k, w_v):
    return head(x, w_q, w_k, w_v, weights_of=lambda s: s)


@wrong("attention", "values not projected", named="values not projected")
def _(x, w_q, w_k, w_v):
    return head(x, w_q, w_k, w_v, out_of=lambda w, x, v: w @ x)


# --- 05 multi-head attention ---


def mha(x, w_q, w_k, w_v, w_o, h, *, scale=None, merge=None):
    b, length, d_model = x.shape
    d = d_model // h

    def split(t):
        return t.view(b, length, h, d).transpose(1, 2)

    q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    out = torch.softmax(q @ k.transpose(-2, -1) / (scale or math.sqrt(d)), dim=-1) @ v
    merged = out.transpose(1, 2).reshape(b, length, d_model) if merge is None else merge(out)
    return merged @ w_o


@wrong("multi_head_attention", "scaled by √num_heads", named="scaled by √num_heads")
def _(x, w_q, w_k, w_v, w_o, h):
    return mha(x, w_q, w_k, w_v, w_o, h, scale=math.sqrt(h))


@wrong("multi_head_attention", ".view after the transpose", named="view after the transpose")
def _(x, w_q, w_k, w_v, w_o, h):
    return mha(x, w_q, w_k, w_v, w_o, h, merge=lambda out: out.transpose(1, 2).view(x.shape))


@wrong("multi_head_attention", "residual added", named="residual added")
def _(x, w_q, w_k, w_v, w_o, h):
    return mha(x, w_q, w_k, w_v, w_o, h) + x


@wrong("multi_head_attention", "heads take every h-th column", named="heads interleaved")
def _(x, w_q, w_k, w_v, w_o, h):
    b, length, d_model = x.shape
    d = d_model // h

    def split(t):
        return t.view(b, length, d, h).permute(0, 3, 1, 2)

    q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    out = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1) @ v
    return out.permute(0, 2, 3, 1).reshape(b, length, d_model) @ w_o


@wrong("multi_head_attention", "d_head as a float", named="d_head as a float")
def _(x, w_q, w_k, w_v, w_o, h):
    b, length, d_model = x.shape
    return (x @ w_q).view(b, length, h, d_model / h)


@wrong("multi_head_attention", "returns (output, weights)")
def _(x, w_q, w_k, w_v, w_o, h):
    return mha(x, w_q, w_k, w_v, w_o, h), torch.zeros(1)


# --- 06 masks ---


def masked(scores, allowed, fill=float("-inf"), dim=-1):
    return torch.softmax(scores.masked_fill(~allowed, fill), dim=dim)


def tril(n):
    return torch.ones(n, n).tril().bool()


@wrong("causal_masked_weights", "pad id hard-coded as 0", named="pad id hard-coded as 0")
def _(scores, ids, pad_id):
    return masked(scores, tril(ids.shape[1]) & (ids != 0)[:, None, :])


@wrong("causal_masked_weights", "a float mask for masked_fill", named="float mask")
def _(scores, ids, pad_id):
    allowed = torch.ones(ids.shape[1], ids.shape[1]).tril() * (ids != pad_id)[:, None, :]
    return torch.softmax(scores.masked_fill(1 - allowed, float("-inf")), -1)


@wrong(
    "causal_masked_weights",
    "causal mask sized by the batch",
    named="mask that does not line up with the scores",
)
def _(scores, ids, pad_id):
    return masked(scores, tril(ids.shape[0])[:, None] & (ids != pad_id)[:, None, :])


@wrong("causal_masked_weights", "softmax over the queries", named="softmax over the queries")
def _(scores, ids, pad_id):
    return masked(scores, tril(ids.shape[1]) & (ids != pad_id)[:, None, :], -1e9, dim=1)


@wrong("causal_masked_weights", "-1 instead of -inf", named="filled with -1")
def _(scores, ids, pad_id):
    return masked(scores, tril(ids.shape[1]) & (ids != pad_id)[:, None, :], -1.0)


@wrong(
    "causal_masked_weights", "padding of the first sentence for all", named="first sentence's padding for all"
)
def _(scores, ids, pad_id):
    return masked(scores, tril(ids.shape[1]) & (ids[0] != pad_id)[None, None, :])


# --- 07 layer normalisation ---


@wrong("layer_norm", "std from torch.std, squared back", named="unbiased variance")
def _(x, weight, bias, eps):
    mean, std = x.mean(-1, keepdim=True), x.std(-1, keepdim=True)
    return (x - mean) / torch.sqrt(std**2 + eps) * weight + bias


@wrong("layer_norm", "The Annotated Transformer's a_2 and b_2", named="The Annotated Transformer's version")
def _(x, weight, bias, eps):
    mean, std = x.mean(-1, keepdim=True), x.std(-1, keepdim=True)
    return weight * (x - mean) / (std + eps) + bias


@wrong("layer_norm", "statistics over the batch, as batch norm", named="over the batch")
def _(x, weight, bias, eps):
    mean, var = x.mean(0, keepdim=True), x.var(0, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


@wrong("layer_norm", "divided by the variance, not its root", named="no square root")
def _(x, weight, bias, eps):
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    return (x - mean) / (var + eps) * weight + bias


@wrong("layer_norm", "a fresh nn.LayerNorm", named="no weight and bias")
def _(x, weight, bias, eps):
    return torch.nn.LayerNorm(x.shape[-1], eps=eps)(x)


@wrong("layer_norm", "shift before scale", named="shift before the scale")
def _(x, weight, bias, eps):
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    return ((x - mean) / torch.sqrt(var + eps) + bias) * weight


@wrong("layer_norm", "nn.LayerNorm's default eps", named="eps fixed at 1e-5")
def _(x, weight, bias, eps):
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5) * weight + bias


# --- 07 feed-forward ---


@wrong("feed_forward", "softmax instead of ReLU", named="softmax as the activation")
def _(x, w_1, b_1, w_2, b_2):
    return torch.softmax(x @ w_1 + b_1, -1) @ w_2 + b_2


@wrong("feed_forward", "sigmoid instead of ReLU", named="another activation")
def _(x, w_1, b_1, w_2, b_2):
    return torch.sigmoid(x @ w_1 + b_1) @ w_2 + b_2


@wrong("feed_forward", "F.dropout left in", named="dropout")
def _(x, w_1, b_1, w_2, b_2):
    return F.dropout(torch.relu(x @ w_1 + b_1), 0.1) @ w_2 + b_2


@wrong("feed_forward", "clamp(max=0)", named="min instead of max")
def _(x, w_1, b_1, w_2, b_2):
    return (x @ w_1 + b_1).clamp(max=0) @ w_2 + b_2


@wrong("feed_forward", "b_1 twice, b_2 never")
def _(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1 + b_1) @ w_2 + b_1[: w_2.shape[1]]


@wrong("feed_forward", "leaky ReLU")
def _(x, w_1, b_1, w_2, b_2):
    return F.leaky_relu(x @ w_1 + b_1, 0.1) @ w_2 + b_2


# --- 07 Add & Norm ---


@wrong("add_norm", "norm_first read the other way round", named="always pre-norm")
def _(block, x, sublayer):
    if not block.norm_first:
        return x + block.dropout(sublayer(block.norm(x)))
    return block.norm(x + block.dropout(sublayer(x)))


@wrong("add_norm", "F.layer_norm without the block's weights", named="LayerNorm without its scale and shift")
def _(block, x, sublayer):
    def norm(h):
        return F.layer_norm(h, h.shape[-1:])

    if block.norm_first:
        return x + block.dropout(sublayer(norm(x)))
    return norm(x + block.dropout(sublayer(x)))


@wrong("add_norm", "post-norm without the norm", named="no norm")
def _(block, x, sublayer):
    if block.norm_first:
        return x + block.dropout(sublayer(block.norm(x)))
    return x + block.dropout(sublayer(x))


@wrong(
    "add_norm", "post-norm feeds the sublayer the normalised x", named="post-norm normalises the input too"
)
def _(block, x, sublayer):
    if block.norm_first:
        return x + block.dropout(sublayer(block.norm(x)))
    return block.norm(x + block.dropout(sublayer(block.norm(x))))


@wrong("add_norm", "dropout applied twice", named="dropout twice")
def _(block, x, sublayer):
    if block.norm_first:
        return x + block.dropout(block.dropout(sublayer(block.norm(x))))
    return block.norm(x + block.dropout(block.dropout(sublayer(x))))


@wrong("add_norm", "residual halved")
def _(block, x, sublayer):
    if block.norm_first:
        return x + 0.5 * block.dropout(sublayer(block.norm(x)))
    return block.norm(x + 0.5 * block.dropout(sublayer(x)))


# --- 07 encoder layer ---


def encoder(layer, x, mask, *, attend=None, ff_input=None, norms=("norm1", "norm2")):
    a, w = layer.self_attn(x, mask=mask) if attend is None else attend(layer, x, mask)
    h = getattr(layer, norms[0])(x + a)
    return getattr(layer, norms[1])(h + layer.feed_forward(h if ff_input is None else ff_input(a, w)))


@wrong("encoder_layer", "mask passed by position", named="mask passed as the key")
def _(layer, x, mask):
    return encoder(layer, x, mask, attend=lambda layer, x, mask: layer.self_attn(x, mask))


@wrong("encoder_layer", "norm2 first, norm1 second", named="norm1 and norm2 swapped")
def _(layer, x, mask):
    return encoder(layer, x, mask, norms=("norm2", "norm1"))


@wrong("encoder_layer", "mask squeezed to (B, L)", named="mask squeezed")
def _(layer, x, mask):
    return encoder(layer, x, mask, attend=lambda layer, x, mask: layer.self_attn(x, mask=mask[:, 0, 0]))


@wrong("encoder_layer", "a layer.dropout that does not exist")
def _(layer, x, mask):
    a, _ = layer.self_attn(x, mask=mask)
    return layer.norm1(x + layer.dropout(a))


@wrong(
    "encoder_layer", "feed-forward on the attention output", named="feed-forward on the attention's output"
)
def _(layer, x, mask):
    return encoder(layer, x, mask, ff_input=lambda a, w: a)


@wrong("encoder_layer", "the weights taken as the output", named="weights taken for the output")
def _(layer, x, mask):
    return encoder(layer, x, mask, attend=lambda layer, x, mask: layer.self_attn(x, mask=mask)[::-1])


# --- 07 decoder layer ---


def decoder(layer, x, memory, *, self_mask=None, cross=None, ff=None, cross_from_input=False):
    a, _ = layer.self_attn(x, mask=causal_mask(x.shape[1]) if self_mask is None else self_mask)
    h = layer.norm1(x + a)
    c, _ = (cross or (lambda h: layer.cross_attn(h, memory, memory)))(x if cross_from_input else h)
    h = layer.norm2(h + c)
    return layer.norm3(h + (ff or layer.feed_forward)(h))


@wrong("decoder_layer", "causal mask sized by the memory", named="causal mask of the source's length")
def _(layer, x, memory):
    return decoder(layer, x, memory, self_mask=causal_mask(memory.shape[1]))


@wrong("decoder_layer", "no Add & Norm around the cross-attention")
def _(layer, x, memory):
    a, _ = layer.self_attn(x, mask=causal_mask(x.shape[1]))
    h, _ = layer.cross_attn(layer.norm1(x + a), memory, memory)
    return layer.norm3(h + layer.feed_forward(h))


@wrong("decoder_layer", "feed-forward reads the memory")
def _(layer, x, memory):
    return decoder(layer, x, memory, ff=lambda h: layer.feed_forward(memory).mean(1, keepdim=True))


@wrong("decoder_layer", "keys from memory, values from x", named="cross-attention values from x")
def _(layer, x, memory):
    return decoder(layer, x, memory, cross=lambda h: layer.cross_attn(h, memory, h))


@wrong(
    "decoder_layer",
    "cross-attention on the layer's input",
    named="cross-attention queries from the layer's input",
)
def _(layer, x, memory):
    return decoder(layer, x, memory, cross_from_input=True)


@wrong("decoder_layer", "triu as the causal mask", named="causal mask upside down")
def _(layer, x, memory):
    length = x.shape[1]
    return decoder(layer, x, memory, self_mask=torch.ones(length, length, dtype=torch.bool).triu())


# --- 07 the encoder-decoder forward ---


def forward(parts, src, trg_in, *, embed=None, out=None, src_mask=None):
    d = parts.embedding.embedding_dim

    def embedded(ids):
        return parts.embedding(ids) * math.sqrt(d) + parts.positions[: ids.shape[1]]

    embed = embed or embedded
    keys = padding_mask(src, parts.pad_id) if src_mask is None else src_mask
    memory = parts.encoder(embed(src), keys)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    hidden = parts.decoder(embed(trg_in), memory, trg_mask, keys)
    return parts.output(hidden) if out is None else out(hidden)


@wrong(
    "encoder_decoder_forward",
    "target positions sliced with the source length",
    named="one sentence's length for both sentences' positions",  # round 51: review R3's F8
)
def _(parts, src, trg_in):
    d = parts.embedding.embedding_dim
    return forward(
        parts,
        src,
        trg_in,
        embed=lambda ids: parts.embedding(ids) * math.sqrt(d) + parts.positions[: src.shape[1]],
    )


@wrong("encoder_decoder_forward", "scaled by √V", named="× √vocab_size")
def _(parts, src, trg_in):
    v = parts.embedding.num_embeddings
    return forward(
        parts,
        src,
        trg_in,
        embed=lambda ids: parts.embedding(ids) * math.sqrt(v) + parts.positions[: ids.shape[1]],
    )


@wrong("encoder_decoder_forward", "log-softmax on the output", named="log-softmax on the logits")
def _(parts, src, trg_in):
    return forward(parts, src, trg_in, out=lambda h: parts.output(h).log_softmax(-1))


@wrong("encoder_decoder_forward", "padding mask the wrong way round", named="padding mask inverted")
def _(parts, src, trg_in):
    return forward(parts, src, trg_in, src_mask=(src == parts.pad_id)[:, None, None, :])


@wrong(
    "encoder_decoder_forward", "embedding table as output without .T", named="output weight not transposed"
)
def _(parts, src, trg_in):
    return forward(parts, src, trg_in, out=lambda h: h @ parts.embedding.weight)


@wrong("encoder_decoder_forward", "positions added twice", named="positions added twice")
def _(parts, src, trg_in):
    d = parts.embedding.embedding_dim
    return forward(
        parts,
        src,
        trg_in,
        embed=lambda ids: parts.embedding(ids) * math.sqrt(d) + 2 * parts.positions[: ids.shape[1]],
    )


# --- 08 the shifted-target loss ---


def ce(logits, labels, **kwargs):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), **kwargs)


@wrong("teacher_forcing_loss", ".view on a sliced target", named="view on a slice")
def _(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), trg[:, 1:].view(-1), ignore_index=pad_id)


@wrong("teacher_forcing_loss", "labels shifted by two", named="labels of the wrong length")
def _(model, src, trg, pad_id):
    return ce(model(src, trg[:, :-1]), trg[:, 2:], ignore_index=pad_id)


@wrong("teacher_forcing_loss", "pad id hard-coded as 0", named="pad id hard-coded as 0")
def _(model, src, trg, pad_id):
    return ce(model(src, trg[:, :-1]), trg[:, 1:], ignore_index=0)


@wrong("teacher_forcing_loss", "mean of each row's mean", named="mean per story, then over the batch")
def _(model, src, trg, pad_id):
    labels = trg[:, 1:]
    each = F.cross_entropy(model(src, trg[:, :-1]).transpose(1, 2), labels, reduction="none")
    real = labels != pad_id
    return ((each * real).sum(1) / real.sum(1)).mean()


@wrong("teacher_forcing_loss", "label smoothing", named="label smoothing")
def _(model, src, trg, pad_id):
    return ce(model(src, trg[:, :-1]), trg[:, 1:], ignore_index=pad_id, label_smoothing=0.1)


@wrong(
    "teacher_forcing_loss",
    "decoder reads trg[:, 1:], scored on trg[:, 1:]",
    named="decoder reads what it is scored on",
)
def _(model, src, trg, pad_id):
    return ce(model(src, trg[:, 1:]), trg[:, 1:], ignore_index=pad_id)


@wrong(
    "teacher_forcing_loss",
    "transposed for cross_entropy, but the whole target read",
    named="labels of the wrong length",
)
def _(model, src, trg, pad_id):
    return F.cross_entropy(model(src, trg).transpose(1, 2), trg[:, 1:], ignore_index=pad_id)


@wrong("teacher_forcing_loss", "only the logits flattened", named="labels not flattened")
def _(model, src, trg, pad_id):
    return F.cross_entropy(model(src, trg[:, :-1]).flatten(0, 1), trg[:, 1:], ignore_index=pad_id)


@wrong("teacher_forcing_loss", "logits reshaped (V, -1)", named="logits flattened the wrong way")
def _(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.reshape(logits.shape[-1], -1), trg[:, 1:].reshape(-1), ignore_index=pad_id)


# --- 08 one training step ---


@wrong("train_step", "loss_fn(model, *batch)", named="loss_fn called another way")
def _(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, *batch)
    loss.backward()
    optimiser.step()
    return loss.item()


@wrong("train_step", "zero_grad without parentheses", named="no zero_grad")
def _(model, optimiser, loss_fn, batch):
    optimiser.zero_grad  # noqa: B018
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item()


@wrong("train_step", "step without parentheses", named="weights never move")
def _(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step  # noqa: B018
    return loss.item()


@wrong("train_step", "returns loss.detach()", named="returned the tensor")
def _(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.detach()


@wrong("train_step", "a new optimiser inside the step", named="optimiser not used")
def _(model, optimiser, loss_fn, batch):
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item()


@wrong("train_step", "the loss back-propagated twice, recomputed", named="backward twice, the graph kept")
def _(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    loss_fn(model, batch).backward()
    optimiser.step()
    return loss.item()


@wrong("train_step", "gradients clipped to 0.01")
def _(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), 0.01)
    optimiser.step()
    return loss.item()


# --- 08 greedy decoding ---


def greedy(logits_fn, prompt, steps, eos_id, *, pick=None):
    ids = prompt.clone()
    for _ in range(steps):
        logits = logits_fn(ids.unsqueeze(0))[0]
        token = logits[-1].argmax() if pick is None else pick(logits)
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


@wrong("greedy_decode", "one step short", named="one new token too few")
def _(logits_fn, prompt, max_new_tokens, eos_id):
    return greedy(logits_fn, prompt, max_new_tokens - 1, eos_id)


@wrong("greedy_decode", "a Python list returned")
def _(logits_fn, prompt, max_new_tokens, eos_id):
    return greedy(logits_fn, prompt, max_new_tokens, eos_id).tolist()


@wrong("greedy_decode", ".max() (the score) instead of .argmax()", named="the largest score appended")
def _(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone().float()
    for _ in range(max_new_tokens):
        value = logits_fn(ids.long().unsqueeze(0))[0, -1].max()
        ids = torch.cat([ids, value.view(1)])
        if int(value) == eos_id:
            break
    return ids


@wrong("greedy_decode", "eos skipped, the loop goes on", named="<eos> dropped")
def _(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        if int(token) == eos_id:
            continue
        ids = torch.cat([ids, token.view(1)])
    return ids


@wrong("greedy_decode", "prompt put after the new tokens")
def _(logits_fn, prompt, max_new_tokens, eos_id):
    ids = greedy(logits_fn, prompt, max_new_tokens, eos_id)
    return torch.cat([ids[prompt.shape[0] :], prompt])


@wrong("greedy_decode", "second-last position read", named="the second-to-last position read")
def _(logits_fn, prompt, max_new_tokens, eos_id):
    return greedy(
        logits_fn, prompt, max_new_tokens, eos_id, pick=lambda lg: lg[max(-2, -lg.shape[0])].argmax()
    )


# --- 08 sampling ---


def top_k_sample(logits, temperature, top_k, *, scale=None, kth=None):
    logits = logits / (temperature if scale is None else scale(temperature))
    if top_k is not None:
        cut = logits.topk(top_k, dim=-1).values[:, -1:] if kth is None else kth(logits, top_k)
        logits = logits.masked_fill(logits < cut, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1)


@wrong("sample_next_token", "argmax of probabilities plus noise")
def _(logits, temperature, top_k):
    return (torch.softmax(logits / temperature, -1) + torch.rand_like(logits)).argmax(-1)


@wrong("sample_next_token", "one draw for the whole batch", named="one draw for the whole batch")
def _(logits, temperature, top_k):
    probs = torch.softmax(logits / temperature, -1)
    return torch.multinomial(probs[0], 1).expand(logits.shape[0])


@wrong("sample_next_token", "B draws per row, without replacement", named="num_samples = the batch size")
def _(logits, temperature, top_k):
    return torch.multinomial(torch.softmax(logits / temperature, -1), logits.shape[0])


@wrong("sample_next_token", "k-th value read at index k", named="top-k keeps k+1")
def _(logits, temperature, top_k):
    return top_k_sample(
        logits, temperature, top_k, kth=lambda lg, k: lg.sort(-1, descending=True).values[:, k : k + 1]
    )


@wrong("sample_next_token", "the smallest k kept", named="the k smallest kept")
def _(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, -1, largest=False).values[:, -1:]
        logits = logits.masked_fill(logits > kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1)


@wrong("sample_next_token", "temperature squared", named="temperature divided twice")
def _(logits, temperature, top_k):
    return top_k_sample(logits, temperature, top_k, scale=lambda t: t**2)


@wrong("sample_next_token", "ids as floats", named="not ids")
def _(logits, temperature, top_k):
    return top_k_sample(logits, temperature, top_k).float()


# --- 09 the GPT's forward pass ---


def embed(parts, ids, positions=None):
    """Scaled token vectors plus the learned vector of each position (0 … L-1 by default)."""
    where = torch.arange(ids.shape[1]) if positions is None else positions
    return parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(where)


@wrong("gpt_forward", "GPT-2's embedding, unscaled", named="no √d_model")
def _(parts, ids):
    x = parts.token(ids) + parts.positions.weight[: ids.shape[1]]
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight.T


@wrong("gpt_forward", "positions counted from 1", named="positions counted from 1")
def _(parts, ids):
    x = embed(parts, ids, torch.arange(1, ids.shape[1] + 1))
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight.T


@wrong("gpt_forward", "nn.Transformer's square subsequent mask", named="a float mask")
def _(parts, ids):
    x = embed(parts, ids)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(ids.shape[1])
    for block in parts.blocks:
        x = block(x, mask)
    return parts.norm(x) @ parts.token.weight.T


@wrong("gpt_forward", "a residual around each block", named="residual added twice")
def _(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = x + block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight.T


@wrong("gpt_forward", "the norm before the blocks instead of after", named="final norm on the embeddings")
def _(parts, ids):
    x = parts.norm(embed(parts, ids))
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return x @ parts.token.weight.T


@wrong("gpt_forward", "the output through the embedding itself", named="an embedding given floats")
def _(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.token(parts.norm(x))


@wrong("gpt_forward", "the mask sized by the batch")
def _(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[0]))
    return parts.norm(x) @ parts.token.weight.T


@wrong("gpt_forward", "only the next token, for generation", named="the last position only")
def _(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return (parts.norm(x) @ parts.token.weight.T)[:, -1, :]


@wrong("gpt_forward", "log-probabilities returned", named="log-softmax on the logits")
def _(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return torch.log_softmax(parts.norm(x) @ parts.token.weight.T, dim=-1)


@wrong("gpt_forward", "the blocks in reverse order", named="the blocks in reverse order")
def _(parts, ids):
    x = embed(parts, ids)
    for block in reversed(parts.blocks):
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight.T


@wrong("gpt_forward", "F.layer_norm without the norm's weight and bias", named="a LayerNorm of your own")
def _(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return F.layer_norm(x, (x.shape[-1],)) @ parts.token.weight.T


@wrong("gpt_forward", "the final norm applied twice", named="final norm applied twice")
def _(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(parts.norm(x)) @ parts.token.weight.T


# --- 09 the nucleus of top-p ---


def nucleus(probs, top_p, drop):
    """Sorted likeliest first, ``drop(cumulative, ranked)`` says which to zero, put back."""
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(drop(ranked.cumsum(dim=-1), ranked), 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


@wrong("keep_top_p", "drop where the running total passes p", named="crossing token left out")
def _(probs, top_p):
    return nucleus(probs, top_p, lambda total, p: total > top_p)


@wrong(
    "keep_top_p",
    "each token's own probability against p (a min-p)",
    named="each probability against 1 − top_p",
)
def _(probs, top_p):
    kept = probs.masked_fill(probs < 1 - top_p, 0.0)
    return kept / kept.sum(dim=-1, keepdim=True)


@wrong("keep_top_p", "returns the mask", named="the mask returned")
def _(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    keep = ranked.cumsum(dim=-1) - ranked < top_p
    return torch.zeros_like(keep).scatter(-1, order, keep)


@wrong("keep_top_p", "put back with gather instead of scatter", named="gathered back")
def _(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    kept = ranked.gather(-1, order)  # the permutation, applied once more: not its inverse
    return kept / kept.sum(dim=-1, keepdim=True)


@wrong("keep_top_p", "divided by top_p instead of the kept sum", named="not renormalised")
def _(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    return torch.zeros_like(probs).scatter(-1, order, ranked) / top_p


@wrong("keep_top_p", "k from the first row used for every row", named="one cut for the batch")
def _(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    k = int((ranked[0].cumsum(dim=0) - ranked[0] < top_p).sum())
    ranked[:, k:] = 0.0
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


# --- 09 one attention step with a KV cache ---


def grow(past, new, dim=2):
    return new if past is None else torch.cat([past, new], dim=dim)


@wrong("cached_attention_step", "cat with no None check", named="empty cache not handled")
def _(q, k_new, v_new, past_k, past_v):
    keys, values = torch.cat((past_k, k_new), 2), torch.cat((past_v, v_new), 2)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


@wrong("cached_attention_step", "stacked along d_head", named="wrong axis")
def _(q, k_new, v_new, past_k, past_v):
    keys, values = grow(past_k, k_new, dim=3), grow(past_v, v_new, dim=3)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


@wrong(
    "cached_attention_step",
    "scores from the cached keys, cache updated after",
    named="new token left out of its attention",
)
def _(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        return v_new, k_new, v_new
    out = F.scaled_dot_product_attention(q, past_k, past_v)
    return out, torch.cat([past_k, k_new], 2), torch.cat([past_v, v_new], 2)


@wrong("cached_attention_step", "its own score set to -inf", named="new token left out of its attention")
def _(q, k_new, v_new, past_k, past_v):
    keys, values = grow(past_k, k_new), grow(past_v, v_new)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if past_k is not None:
        scores[..., -1] = float("-inf")
    return scores.softmax(dim=-1) @ values, keys, values


@wrong("cached_attention_step", "is_causal=True kept from training", named="causal mask")
def _(q, k_new, v_new, past_k, past_v):
    keys, values = grow(past_k, k_new), grow(past_v, v_new)
    return F.scaled_dot_product_attention(q, keys, values, is_causal=True), keys, values


@wrong("cached_attention_step", "scaled by the number of cached tokens", named="÷ √(number of keys)")
def _(q, k_new, v_new, past_k, past_v):
    keys, values = grow(past_k, k_new), grow(past_v, v_new)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(keys.shape[2]), -1)
    return weights @ values, keys, values


@wrong("cached_attention_step", "values grown with the keys", named="key cached as value")
def _(q, k_new, v_new, past_k, past_v):
    keys = grow(past_k, k_new)
    values = grow(past_v, k_new)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


@wrong("cached_attention_step", "out with the position axis squeezed")
def _(q, k_new, v_new, past_k, past_v):
    keys, values = grow(past_k, k_new), grow(past_v, v_new)
    return F.scaled_dot_product_attention(q, keys, values).squeeze(2), keys, values


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "fn", "named"), TRYOUT)
def test_a_wrong_answer_gets_its_own_hint_or_an_honest_generic_message(name, fn, named):
    ex = exercise(name)
    result = ex.check(fn)
    assert result.status in (WRONG, ERROR), result.message  # never a pass, never "not attempted"
    hints = {m.name: m.hint for m in ex.mistakes}
    found = [n for n, h in hints.items() if h in result.message]
    if named is not None:
        # Several mistakes may share one hint (three ways of not shifting the target): the
        # message must give the hint of the mistake named, and no other hint.
        assert {hints[n] for n in found} == {hints[named]}, result.message
    else:
        assert not found, result.message  # no hint that would mislead
        generic = (f"{name} differs from the reference on input #", f"{name} raised ")
        assert result.message.startswith(generic), result.message


def test_the_tryout_covers_every_exercise_with_at_least_five_answers():
    from transformer_course.checks import EXERCISES

    counts = {ex.name: sum(1 for p in TRYOUT if p.values[0] == ex.name) for ex in EXERCISES}
    assert min(counts.values()) >= 5, counts
