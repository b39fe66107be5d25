"""Round 43a's battery of wrong answers for the cosine similarity, the sinusoidal table, the
softmax, the causal + padding weights, LayerNorm, the encoder layer and the cached attention
step: each slip a learner types gets the hint that names it (not "differs at index 3"), a slip of
shape or kind keeps the generic description that already names it (an extra axis, a tuple, a
dtype), and the right answers written in other styles still pass.

The wrong answers here are written apart from the catalogue's own examples, as a learner would
type them, so that a test cannot pass by construction.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from _battery import Battery
from transformer_course.checks.harness import PASSED, WRONG
from transformer_course.checks.registry import exercise

_battery = Battery()
wrong, right = _battery.wrong, _battery.right
DESCRIBED = []  # (exercise, words the generic description must hold, the learner's function)


def described(name, words):
    """A slip the checker's own description already names (a shape, a tuple, a dtype): no
    catalogue entry is needed, but the message must keep naming it."""

    def register(fn):
        DESCRIBED.append(pytest.param(name, words, fn, id=f"{name}: {fn.__name__}"))
        return fn

    return register


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


# --- 01: cosine similarity, vectors (T, d) → (T, T) ---


def _lengths(v):
    return v.norm(dim=1, keepdim=True)  # (T, 1)


@wrong("cosine_similarity", "a length times itself, by columns")
def lengths_without_keepdim_multiplied(vectors):
    n = vectors.norm(dim=1)  # (T,): broadcasts along the rows of the (T, T) matrix
    return vectors @ vectors.T / (n * n)


@wrong("cosine_similarity", "square root of the length product")
def root_of_the_outer_product(vectors):
    n = vectors.norm(dim=1)
    return vectors @ vectors.T / torch.outer(n, n).sqrt()  # "the geometric mean of the lengths"


@wrong("cosine_similarity", "max-norm lengths")
def divided_by_the_largest_entry(vectors):
    unit = vectors / vectors.abs().max(dim=1, keepdim=True).values
    return unit @ unit.T


@wrong("cosine_similarity", "negative cosines clipped")
def clamped_to_zero_one(vectors):
    unit = vectors / _lengths(vectors)
    return (unit @ unit.T).clamp(0, 1)  # "cosines live in [0, 1]"


@wrong("cosine_similarity", "mapped to 0 … 1")
def shifted_into_zero_one(vectors):
    unit = vectors / _lengths(vectors)
    return (unit @ unit.T + 1) / 2


@wrong("cosine_similarity", "rounded")
def rounded_for_display(vectors):
    unit = vectors / _lengths(vectors)
    return (unit @ unit.T).round(decimals=2)


@wrong("cosine_similarity", "mean of the products")
def mean_instead_of_sum(vectors):
    n = vectors.norm(dim=1)
    dots = (vectors[:, None, :] * vectors[None, :, :]).mean(dim=-1)  # meant .sum
    return dots / torch.outer(n, n)


@wrong("cosine_similarity", "Euclidean distances")
def cdist_of_the_vectors(vectors):
    return torch.cdist(vectors, vectors)


@wrong("cosine_similarity", "norm over dim=0")
def normalize_on_the_wrong_axis(vectors):
    unit = F.normalize(vectors, dim=0)
    return unit @ unit.T


@wrong("cosine_similarity", "each row with itself")
def pairwise_cosine_on_the_same_rows(vectors):
    return F.cosine_similarity(vectors, vectors, dim=1)


@wrong("cosine_similarity", "standard deviations for lengths")
def divided_by_the_std(vectors):
    unit = vectors / vectors.std(dim=1, keepdim=True)
    return unit @ unit.T


@wrong("cosine_similarity", "squared lengths")
def sum_of_squares_as_the_length(vectors):
    unit = vectors / (vectors**2).sum(dim=1, keepdim=True)
    return unit @ unit.T


@wrong("cosine_similarity", "loops stop one short")
def nested_loops_range_len_minus_one(vectors):
    t = vectors.shape[0]
    out = torch.zeros(t, t)
    for i in range(t - 1):
        for j in range(t - 1):
            out[i, j] = vectors[i] @ vectors[j] / (vectors[i].norm() * vectors[j].norm())
    return out


@right("cosine_similarity")
def broadcast_f_cosine(vectors):
    return F.cosine_similarity(vectors[:, None, :], vectors[None, :, :], dim=-1)


@right("cosine_similarity")
def clamped_to_minus_one_one(vectors):
    unit = F.normalize(vectors, dim=1)
    return (unit @ unit.T).clamp(-1, 1)


@wrong("cosine_similarity", "raw dot product")
def dot_products_only(vectors):
    return torch.einsum("id,jd->ij", vectors, vectors)


@wrong("cosine_similarity", "cosine distance")
def one_minus_the_cosine(vectors):
    unit = F.normalize(vectors, dim=-1)
    return 1 - unit @ unit.T


@wrong("cosine_similarity", "the angle")
def arccos_of_the_cosine(vectors):
    unit = F.normalize(vectors, dim=-1)
    return torch.arccos((unit @ unit.T).clamp(-1, 1))


@wrong("cosine_similarity", "absolute value")
def absolute_cosines(vectors):
    unit = F.normalize(vectors, dim=-1)
    return (unit @ unit.T).abs()


@right("cosine_similarity")
def normalize_with_its_default_dim(vectors):
    unit = F.normalize(vectors)  # dim=1 by default: the rows
    return unit @ unit.T


@wrong("cosine_similarity", "a length times itself, by columns")
def divided_by_the_diagonal(vectors):
    dots = vectors @ vectors.T
    return dots / dots.diag()  # (T,) broadcasts along the rows


@wrong("cosine_similarity", "one minus the distances")
def one_minus_unit_distances(vectors):
    unit = F.normalize(vectors, dim=1)
    return 1 - torch.cdist(unit, unit)


@right("cosine_similarity")
def from_the_diagonal(vectors):
    dots = vectors @ vectors.T
    lengths = dots.diag().sqrt()
    return dots / torch.outer(lengths, lengths)


@right("cosine_similarity")
def from_unit_distances(vectors):
    unit = F.normalize(vectors, dim=1)
    return 1 - torch.cdist(unit, unit) ** 2 / 2  # |u - v|² = 2 - 2 cos


@right("cosine_similarity")
def one_side_normalised_then_the_other(vectors):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return unit @ vectors.T / vectors.norm(dim=1)  # column j divided by |v_j|


@wrong("cosine_similarity", "cosines squared")
def squared_similarities(vectors):
    unit = F.normalize(vectors, dim=1)
    return (unit @ unit.T) ** 2


# --- 02: sinusoidal encoding (length, d_model) → (length, d_model) ---


def _table(pos, freq_exponent, *, base=10000.0):
    """A concatenation-free interleaved table from pos (L, 1) and exponents (d/2,)."""
    angle = pos / base**freq_exponent
    pe = torch.zeros(pos.shape[0], 2 * freq_exponent.shape[0])
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


@wrong("sinusoidal_encoding", "the 2 counted twice")
def pair_index_over_half_the_width(length, d_model):
    pos = torch.arange(length).float()[:, None]
    return _table(pos, torch.arange(0, d_model, 2) / (d_model / 2))


@wrong("sinusoidal_encoding", "exponent 2·column")
def loop_over_every_column(length, d_model):
    pe = torch.zeros(length, d_model)
    for p in range(length):
        for i in range(d_model):
            angle = p / 10000 ** (2 * i / d_model)  # i is the column, not the pair
            pe[p, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe


@wrong("sinusoidal_encoding", "odd exponents for both")
def odd_columns_for_the_exponent(length, d_model):
    pos = torch.arange(length).float()[:, None]
    return _table(pos, torch.arange(1, d_model, 2) / d_model)


@described("sinusoidal_encoding", "an extra axis of size 1 at dim=0")
def with_a_batch_axis(length, d_model):
    pos = torch.arange(length).float()[:, None]
    return _table(pos, torch.arange(0, d_model, 2) / d_model).unsqueeze(0)


@described("sinusoidal_encoding", "the last two axes are the other way round")
def transposed_table(length, d_model):
    pos = torch.arange(length).float()[:, None]
    return _table(pos, torch.arange(0, d_model, 2) / d_model).T


@wrong("sinusoidal_encoding", "positions spread over 0 to length")
def linspace_positions(length, d_model):
    pos = torch.linspace(0, length, length)[:, None]
    return _table(pos, torch.arange(0, d_model, 2) / d_model)


@wrong("sinusoidal_encoding", "−sin in the odd columns")
def cos_shifted_the_wrong_way(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle + math.pi / 2)  # meant sin(angle + π/2)
    return pe


@wrong("sinusoidal_encoding", "exp form without its minus")  # round 50: named in its own form
def exp_form_without_the_minus(length, d_model):
    pos = torch.arange(length).float()[:, None]
    div = torch.exp(torch.arange(0, d_model, 2).float() * (math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


@wrong("sinusoidal_encoding", "sines then cosines")
def concatenated_halves(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    return torch.cat([angle.sin(), angle.cos()], dim=-1)


@wrong("sinusoidal_encoding", "sin and cos swapped")
def cos_in_the_even_columns(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = angle.cos()
    pe[:, 1::2] = angle.sin()
    return pe


@described("sinusoidal_encoding", "holds whole numbers")
def integer_zeros(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    pe = torch.zeros(length, d_model, dtype=torch.long)  # the sines are cut to 0
    pe[:, 0::2] = angle.sin().long()
    pe[:, 1::2] = angle.cos().long()
    return pe


@right("sinusoidal_encoding")
def sin_shifted_for_the_cosines(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos * 10000 ** (-torch.arange(0, d_model, 2) / d_model)
    return torch.stack([angle.sin(), (angle + math.pi / 2).sin()], dim=-1).flatten(1)


@wrong("sinusoidal_encoding", "base 1000")
def base_a_thousand(length, d_model):
    pos = torch.arange(length).float()[:, None]
    return _table(pos, torch.arange(0, d_model, 2) / d_model, base=1000.0)


@wrong("sinusoidal_encoding", "positions from 1")
def positions_counted_from_one(length, d_model):
    pos = torch.arange(1, length + 1).float()[:, None]
    return _table(pos, torch.arange(0, d_model, 2) / d_model)


@wrong("sinusoidal_encoding", "integer division")
def floor_division_in_the_exponent(length, d_model):
    pos = torch.arange(length).float()[:, None]
    return _table(pos, torch.arange(0, d_model, 2) // d_model)


@wrong("sinusoidal_encoding", "no 10000 power")
def frequencies_without_the_base(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos * torch.arange(0, d_model, 2) / d_model  # the 10000 ** forgotten
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = angle.sin(), angle.cos()
    return pe


@wrong("sinusoidal_encoding", "10000 times the exponent")
def product_for_the_power(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos / (10000 * torch.arange(0, d_model, 2) / d_model)  # 10000 ** meant
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = angle.sin(), angle.cos()
    return pe


@wrong("sinusoidal_encoding", "no cosines")
def sines_in_both_columns(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = angle.sin()
    pe[:, 1::2] = angle.sin()  # copied line
    return pe


@described("sinusoidal_encoding", "parameters in another order than the starter's")
def sizes_the_other_way(length, d_model):
    pos = torch.arange(d_model).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, length, 2) / length)
    pe = torch.zeros(d_model, length)
    pe[:, 0::2], pe[:, 1::2] = angle.sin(), angle.cos()
    return pe


@right("sinusoidal_encoding")
def pair_index_from_the_column(length, d_model):
    pos = torch.arange(length).float()[:, None]
    column = torch.arange(d_model)
    angle = pos / 10000 ** (2 * (column // 2) / d_model)  # (L, d): each pair one frequency
    return torch.where(column % 2 == 0, angle.sin(), angle.cos())


@wrong("sinusoidal_encoding", "sines then cosines")
def stacked_then_reshaped(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    return torch.stack([angle.sin(), angle.cos()], dim=1).reshape(length, d_model)


@wrong("sinusoidal_encoding", "sines and cosines stacked on the first axis")
def stacked_first_then_reshaped(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    return torch.stack([angle.sin(), angle.cos()]).reshape(length, d_model)


@right("sinusoidal_encoding")
def pair_index_over_half_width(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = pos / 10000 ** (torch.arange(d_model // 2) / (d_model // 2))  # i/(d/2) = 2i/d
    return torch.stack([angle.sin(), angle.cos()], dim=-1).view(length, -1)


@wrong("sinusoidal_encoding", "angles times 2π")
def frequencies_in_cycles(length, d_model):
    pos = torch.arange(length).float()[:, None]
    angle = 2 * math.pi * pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = angle.sin(), angle.cos()
    return pe


# --- 04a: softmax over the last axis, stable ---


def _e(x):
    return (x - x.amax(dim=-1, keepdim=True)).exp()


@wrong("softmax", "one added to the denominator")
def quiet_softmax(scores):
    e = _e(scores)
    return e / (1 + e.sum(dim=-1, keepdim=True))


@wrong("softmax", "divided by the mean")
def mean_of_the_exps(scores):
    e = _e(scores)
    return e / e.mean(dim=-1, keepdim=True)


@wrong("softmax", "softmax applied twice")
def softmax_of_a_softmax(scores):
    return torch.softmax(torch.softmax(scores, dim=-1), dim=-1)


@wrong("softmax", "squares instead of exp")
def squares_as_weights(scores):
    s = scores**2
    return s / s.sum(dim=-1, keepdim=True)


@wrong("softmax", "over dim=0")
def softmax_without_dim(scores):
    return F.softmax(scores, dim=0)


@wrong("softmax", "no max subtraction")
def exp_over_its_sum(scores):
    return torch.exp(scores) / torch.exp(scores).sum(dim=-1, keepdim=True)


@wrong("softmax", "log-probabilities")
def logsumexp_without_exp(scores):
    return scores - torch.logsumexp(scores, dim=-1, keepdim=True)


@wrong("softmax", "exp(max - x)")
def softmax_of_minus(scores):
    return torch.softmax(-scores, dim=-1)


@right("softmax")
def with_a_tiny_eps(scores):
    e = _e(scores)
    return e / (e.sum(dim=-1, keepdim=True) + 1e-12)


@wrong("softmax", "row max, column sum")
def normalised_down_the_columns(scores):
    e = _e(scores)
    return e / e.sum(dim=-2, keepdim=True)


@wrong("softmax", "sum of the whole matrix")
def one_total(scores):
    e = _e(scores)
    return e / e.sum()


@wrong("softmax", "not normalised")
def divided_by_the_largest_exp(scores):
    e = _e(scores)
    return e / e.max(dim=-1, keepdim=True).values  # the largest is exp(0) = 1


@wrong("softmax", "sigmoid")
def one_over_one_plus(scores):
    return 1 / (1 + (-scores).exp())


@wrong("softmax", "large scores clamped")
def clamped_to_eighty(scores):
    e = scores.clamp(max=80).exp()
    return e / e.sum(dim=-1, keepdim=True)


@wrong("softmax", "max over dim=1 on a batch")
def module_without_dim(scores):
    return torch.nn.Softmax()(scores)  # implicit dim: 1 for 2-D, 0 for 3-D


@wrong("softmax", "max over dim=1 on a batch")
def softmax_on_dim_one_everywhere(scores):
    return torch.softmax(scores, dim=1)


@wrong("softmax", "log-sum-exp without keepdim")
def logsumexp_without_keepdim(scores):
    return (scores - torch.logsumexp(scores, dim=-1)).exp()


@described("softmax", "keeps only 2 or 3 significant digits")
def softmax_in_half(scores):
    return torch.softmax(scores.half(), dim=-1)


@wrong("softmax", "no max subtraction")
def clamped_from_below_only(scores):
    e = scores.clamp(min=-50).exp()  # the large ones still overflow
    return e / e.sum(dim=-1, keepdim=True)


@right("softmax")
def l1_normalised_exps(scores):
    return F.normalize(_e(scores), p=1, dim=-1)


@right("softmax")
def shifted_by_the_largest_magnitude(scores):
    e = (scores - scores.abs().amax(dim=-1, keepdim=True)).exp()  # any shift ≥ the max is safe
    return e / e.sum(dim=-1, keepdim=True)


@wrong("softmax", "divided by the row length")
def exps_over_the_count(scores):
    return _e(scores) / scores.size(-1)


# --- 05b: causal + padding masked weights ---


def _past(length):
    return torch.ones(length, length, dtype=torch.bool).tril()


@wrong("causal_masked_weights", "mask that does not line up with the scores")
def causal_mask_sized_by_the_batch(scores, ids, pad_id):
    n = scores.shape[0]  # meant the sequence length, shape[1] (or shape[-1])
    past = torch.ones(n, n, dtype=torch.bool).tril()
    real = (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(~(past & real), float("-inf")), dim=-1)


@wrong("causal_masked_weights", "softmax applied twice")
def second_softmax_for_the_padding(scores, ids, pad_id):
    length = ids.shape[1]
    w = torch.softmax(scores.masked_fill(~_past(length), float("-inf")), dim=-1)
    return torch.softmax(w.masked_fill((ids == pad_id).unsqueeze(1), float("-inf")), dim=-1)


@wrong("causal_masked_weights", "tril(diagonal=-1)")
def triu_keeps_the_diagonal_blocked(scores, ids, pad_id):
    length = ids.shape[1]
    blocked = torch.triu(torch.ones(length, length, dtype=torch.bool))  # meant diagonal=1
    blocked = blocked | (ids == pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)


@wrong("causal_masked_weights", "0 instead of -inf")
def scores_times_the_mask(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores * keep, dim=-1)


@wrong("causal_masked_weights", "padding on the queries")
def padding_unsqueezed_last(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(-1)
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)


@wrong("causal_masked_weights", "mask inverted")
def where_with_the_branches_swapped(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    return torch.softmax(torch.where(keep, float("-inf"), scores), dim=-1)


@described("causal_masked_weights", "its item 0 is the right answer")
def returns_the_mask_too(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1), keep


@right("causal_masked_weights")
def renormalised_after_the_softmax(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    w = torch.softmax(scores, dim=-1) * keep
    return w / w.sum(dim=-1, keepdim=True)


@right("causal_masked_weights")
def log_of_the_mask_added(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores + keep.float().log(), dim=-1)


@wrong("causal_masked_weights", "softmax over the queries")
def softmax_on_dim_one(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    return F.softmax(scores.masked_fill(~keep, float("-inf")), dim=1)


@wrong("causal_masked_weights", "future zeroed with tril")
def scores_lower_triangle(scores, ids, pad_id):
    masked = torch.tril(scores).masked_fill((ids == pad_id)[:, None, :], float("-inf"))
    return masked.softmax(dim=-1)


@wrong("causal_masked_weights", "pad id hard-coded as 0")
def zero_as_the_pad(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != 0).unsqueeze(1)
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)


@wrong("causal_masked_weights", "masks combined with OR")
def either_mask(scores, ids, pad_id):
    keep = _past(ids.shape[1]) | (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)


@wrong("causal_masked_weights", "no padding mask")
def causal_only(scores, ids, pad_id):
    return torch.softmax(scores.masked_fill(~_past(ids.shape[1]), float("-inf")), dim=-1)


@right("causal_masked_weights")
def minus_a_billion(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(~keep, -1e9), dim=-1)


@wrong("causal_masked_weights", "triu instead of tril")
def comparison_the_other_way(scores, ids, pad_id):
    i = torch.arange(ids.shape[1])
    keep = (i[:, None] <= i[None, :]) & (ids != pad_id).unsqueeze(1)  # meant >=
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)


@wrong("causal_masked_weights", "tril(diagonal=-1)")
def strict_comparison(scores, ids, pad_id):
    i = torch.arange(ids.shape[1])
    keep = (i[:, None] > i[None, :]) & (ids != pad_id).unsqueeze(1)  # meant >=
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)


@wrong("causal_masked_weights", "scores scaled again")
def divided_by_root_length(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(~keep, float("-inf")) / math.sqrt(scores.shape[-1]), dim=-1)


@wrong("causal_masked_weights", "masked after the softmax")
def weights_times_the_mask(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores, dim=-1) * keep


@right("causal_masked_weights")
def triu_blocked_nan_to_num(scores, ids, pad_id):
    length = ids.shape[1]
    blocked = torch.triu(torch.ones(length, length), diagonal=1).bool() | (ids == pad_id)[:, None]
    return torch.nan_to_num(torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1))


@wrong("causal_masked_weights", "one mask filled with 0")
def padding_filled_with_zero(scores, ids, pad_id):
    masked = scores.masked_fill(~_past(ids.shape[1]), float("-inf"))
    masked = masked.masked_fill((ids == pad_id).unsqueeze(1), 0.0)
    return torch.softmax(masked, dim=-1)


@wrong("causal_masked_weights", "scores transposed before the mask")
def masked_transposed_scores(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores.mT.masked_fill(~keep, float("-inf")), dim=-1)


@right("causal_masked_weights")
def additive_padding(scores, ids, pad_id):
    masked = scores.masked_fill(~_past(ids.shape[1]), float("-inf"))
    return torch.softmax(masked + (ids == pad_id)[:, None].float() * -1e9, dim=-1)


@wrong("causal_masked_weights", "first sentence's padding for all")
def padding_of_the_first_sentence(scores, ids, pad_id):
    keep = _past(ids.shape[1]) & (ids[0] != pad_id)  # ids[0]: one sentence's padding
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)


@right("causal_masked_weights")
def index_comparison_and_a_large_negative(scores, ids, pad_id):
    i = torch.arange(ids.shape[1])
    blocked = (i[None, :] > i[:, None]) | (ids == pad_id)[:, None, :]
    return scores.masked_fill(blocked, -1e4).softmax(-1)


# --- 06a: LayerNorm over the last axis ---


def _centred(x):
    return x - x.mean(dim=-1, keepdim=True)


def _var(x):
    return (_centred(x) ** 2).mean(dim=-1, keepdim=True)


@wrong("layer_norm", "bias subtracted")
def minus_the_bias(x, weight, bias, eps):
    return _centred(x) / torch.sqrt(_var(x) + eps) * weight - bias


@wrong("layer_norm", "mean minus x")
def centred_the_wrong_way(x, weight, bias, eps):
    return (x.mean(dim=-1, keepdim=True) - x) / torch.sqrt(_var(x) + eps) * weight + bias


@wrong("layer_norm", "no eps")
def eps_after_the_division(x, weight, bias, eps):
    return (_centred(x) / torch.sqrt(_var(x)) + eps) * weight + bias


@wrong("layer_norm", "the std returned")
def forgot_the_numerator(x, weight, bias, eps):
    return torch.sqrt(_var(x) + eps) * weight + bias


@wrong("layer_norm", "variance of the whole tensor")
def per_vector_mean_global_variance(x, weight, bias, eps):
    return _centred(x) / torch.sqrt(x.var(unbiased=False) + eps) * weight + bias


@wrong("layer_norm", "eps fixed at 1e-5")
def functional_without_eps(x, weight, bias, eps):
    return F.layer_norm(x, x.shape[-1:], weight, bias)


@wrong("layer_norm", "unbiased variance")
def torch_var_default(x, weight, bias, eps):
    return _centred(x) / torch.sqrt(x.var(dim=-1, keepdim=True) + eps) * weight + bias


@wrong("layer_norm", "The Annotated Transformer's version")
def std_plus_eps(x, weight, bias, eps):
    return weight * _centred(x) / (x.std(dim=-1, keepdim=True) + eps) + bias


@right("layer_norm")
def rsqrt_of_the_biased_var(x, weight, bias, eps):
    var = x.var(dim=-1, keepdim=True, correction=0)
    return torch.addcmul(bias, _centred(x) * torch.rsqrt(var + eps), weight)


@wrong("layer_norm", "over the batch")
def statistics_over_dim_zero(x, weight, bias, eps):
    mean = x.mean(dim=0, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=0, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


@wrong("layer_norm", "RMSNorm")
def root_mean_square(x, weight, bias, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight + bias


@wrong("layer_norm", "no weight and bias")
def normalised_only(x, weight, bias, eps):
    return _centred(x) / torch.sqrt(_var(x) + eps)


@wrong("layer_norm", "shift before the scale")
def bias_then_weight(x, weight, bias, eps):
    return (_centred(x) / torch.sqrt(_var(x) + eps) + bias) * weight


@wrong("layer_norm", "var_mean read as (mean, var)")
def var_mean_unpacked_the_other_way(x, weight, bias, eps):
    mean, var = torch.var_mean(x, dim=-1, correction=0, keepdim=True)  # it returns (var, mean)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


@wrong("layer_norm", "eps of your own")
def eps_written_in(x, weight, bias, eps):
    return _centred(x) / torch.sqrt(_var(x) + 1e-6) * weight + bias


@wrong("layer_norm", "no weight and bias")
def fresh_layer_norm_module(x, weight, bias, eps):
    return torch.nn.LayerNorm(x.shape[-1], eps=eps)(x)


@wrong("layer_norm", "weight and bias swapped")
def functional_arguments_swapped(x, weight, bias, eps):
    return F.layer_norm(x, (x.shape[-1],), bias, weight, eps)


@wrong("layer_norm", "squared deviations summed")
def variance_as_a_sum(x, weight, bias, eps):
    var = (_centred(x) ** 2).sum(dim=-1, keepdim=True)  # the / d forgotten
    return _centred(x) / torch.sqrt(var + eps) * weight + bias


@wrong("layer_norm", "scaled before normalising")
def weight_applied_first(x, weight, bias, eps):
    x = x * weight
    return _centred(x) / torch.sqrt(_var(x) + eps) + bias


@wrong("layer_norm", "no eps")
def normalize_times_root_d(x, weight, bias, eps):
    unit = F.normalize(_centred(x), dim=-1) * math.sqrt(x.shape[-1])  # no eps at all
    return unit * weight + bias


@right("layer_norm")
def mean_and_variance_by_sums(x, weight, bias, eps):
    d = x.shape[-1]
    mean = x.sum(dim=-1, keepdim=True) / d
    var = ((x - mean) ** 2).sum(dim=-1, keepdim=True) / d
    return weight * (x - mean) / (var + eps).sqrt() + bias


@wrong("layer_norm", "variance squared")
def var_squared(x, weight, bias, eps):
    var = x.var(dim=-1, keepdim=True, unbiased=False) ** 2
    return _centred(x) / torch.sqrt(var + eps) * weight + bias


# --- 06c: the encoder layer (post-norm) ---


def _attended(layer, x, mask):
    return layer.self_attn(x, mask=mask)[0]


@wrong("encoder_layer", "GELU instead of the layer's activation")
def feed_forward_by_hand_with_gelu(layer, x, mask):
    x = layer.norm1(x + _attended(layer, x, mask))
    ff = layer.feed_forward
    return layer.norm2(x + ff.linear2(F.gelu(ff.linear1(x))))


@wrong("encoder_layer", "no activation in the feed-forward")
def feed_forward_by_hand_without_relu(layer, x, mask):
    x = layer.norm1(x + _attended(layer, x, mask))
    ff = layer.feed_forward
    return layer.norm2(x + ff.linear2(ff.linear1(x)))


@wrong("encoder_layer", "feed-forward before the first norm")
def feed_forward_on_the_unnormed_sum(layer, x, mask):
    h = x + _attended(layer, x, mask)
    return layer.norm2(layer.norm1(h) + layer.feed_forward(h))


@wrong("encoder_layer", "an activation after the layer")
def relu_on_the_output(layer, x, mask):
    x = layer.norm1(x + _attended(layer, x, mask))
    return torch.relu(layer.norm2(x + layer.feed_forward(x)))


@described("encoder_layer", "its item 0 is the right answer")
def returns_the_pair(layer, x, mask):
    attended, weights = layer.self_attn(x, mask=mask)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x)), weights


@wrong("encoder_layer", "sublayers side by side")
def parallel_block(layer, x, mask):
    return layer.norm2(x + _attended(layer, x, mask) + layer.feed_forward(x))


@wrong("encoder_layer", "pre-norm")
def norm_inside_the_residual(layer, x, mask):
    x = x + _attended(layer, layer.norm1(x), mask)
    return x + layer.feed_forward(layer.norm2(x))


@wrong("encoder_layer", "mask inverted")
def mask_equals_zero(layer, x, mask):
    x = layer.norm1(x + _attended(layer, x, mask == 0))
    return layer.norm2(x + layer.feed_forward(x))


@right("encoder_layer")
def through_the_add_norms(layer, x, mask):
    x = layer.add_norm1(x, lambda h: layer.self_attn(h, mask=mask, need_weights=False)[0])
    return layer.add_norm2(x, layer.feed_forward)


@right("encoder_layer")
def query_key_value_given(layer, x, mask):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(x + layer.feed_forward(x))


@wrong("encoder_layer", "no residuals")
def norms_of_the_sublayers_only(layer, x, mask):
    x = layer.norm1(_attended(layer, x, mask))
    return layer.norm2(layer.feed_forward(x))


@wrong("encoder_layer", "norm1 and norm2 swapped")
def norms_the_other_way(layer, x, mask):
    x = layer.norm2(x + _attended(layer, x, mask))
    return layer.norm1(x + layer.feed_forward(x))


@wrong("encoder_layer", "causal mask")
def causal_for_good_measure(layer, x, mask):
    x = layer.norm1(x + layer.self_attn(x, mask=mask, causal=True)[0])
    return layer.norm2(x + layer.feed_forward(x))


@wrong("encoder_layer", "dropout left on")
def functional_dropout(layer, x, mask):
    x = layer.norm1(x + F.dropout(_attended(layer, x, mask), 0.1))
    return layer.norm2(x + layer.feed_forward(x))


@wrong("encoder_layer", "padding mask not passed")
def mask_forgotten(layer, x, mask):
    x = layer.norm1(x + layer.self_attn(x)[0])
    return layer.norm2(x + layer.feed_forward(x))


@wrong("encoder_layer", "residual from the layer's input")
def both_residuals_from_x(layer, x, mask):
    h = layer.norm1(x + _attended(layer, x, mask))
    return layer.norm2(x + layer.feed_forward(h))


@wrong("encoder_layer", "norm before the add")
def norm_on_the_sublayer_output(layer, x, mask):
    h = x + layer.norm1(_attended(layer, x, mask))
    return h + layer.norm2(layer.feed_forward(h))


@right("encoder_layer")
def mask_squeezed_to_three_dims(layer, x, mask):
    x = layer.norm1(x + layer.self_attn(x, mask=mask.squeeze(1))[0])  # (B, 1, L): same keys for all
    return layer.norm2(x + layer.feed_forward(x))


@wrong("encoder_layer", "attention's result unused")
def forgot_to_reassign(layer, x, mask):
    h = layer.norm1(x + _attended(layer, x, mask))  # noqa: F841 (the slip: the next line reads x)
    return layer.norm2(x + layer.feed_forward(x))


@wrong("encoder_layer", "pre-norm and post-norm together")
def normalised_before_and_after(layer, x, mask):
    x = layer.norm1(x + _attended(layer, layer.norm1(x), mask))
    return layer.norm2(x + layer.feed_forward(layer.norm2(x)))


@right("encoder_layer")
def residual_added_in_place(layer, x, mask):
    h = x.clone()
    h += _attended(layer, x, mask)
    h = layer.norm1(h)
    return layer.norm2(h + layer.feed_forward(h))


@right("encoder_layer")
def functional_norms_with_the_layers_parameters(layer, x, mask):
    def norm(h, ln):
        return F.layer_norm(h, ln.normalized_shape, ln.weight, ln.bias, ln.eps)

    x = norm(x + _attended(layer, x, mask), layer.norm1)
    return norm(x + layer.feed_forward(x), layer.norm2)


@wrong("encoder_layer", "an extra residual around the layer")
def input_added_to_the_output(layer, x, mask):
    h = layer.norm1(x + _attended(layer, x, mask))
    return layer.norm2(h + layer.feed_forward(h)) + x


# --- 09: one cached attention step ---


def _attend(q, keys, values):
    w = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ values


def _grown(past, new):
    return new if past is None else torch.cat([past, new], dim=2)


@wrong("cached_attention_step", "oldest position dropped")
def sliding_window_off_by_one(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        keys, values = k_new, v_new
    else:
        keys = torch.cat([past_k[:, :, 1:], k_new], dim=2)  # "keep the cache the same size"
        values = torch.cat([past_v[:, :, 1:], v_new], dim=2)
    return _attend(q, keys, values), keys, values


@wrong("cached_attention_step", "past keys cached as values")
def values_grown_from_the_keys(q, k_new, v_new, past_k, past_v):
    keys = _grown(past_k, k_new)
    values = _grown(past_k, v_new)  # copy-paste: past_k where past_v was meant
    return _attend(q, keys, values), keys, values


@wrong("cached_attention_step", "causal mask")
def sdpa_is_causal(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    return F.scaled_dot_product_attention(q, keys, values, is_causal=True), keys, values


@wrong("cached_attention_step", "wrong axis")
def cat_on_the_default_axis(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        return _attend(q, k_new, v_new), k_new, v_new
    keys, values = torch.cat([past_k, k_new]), torch.cat([past_v, v_new])
    return _attend(q, keys, values), keys, values


@described("cached_attention_step", "the axis of size 1 at dim=2 is missing")
def out_squeezed(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    return _attend(q, keys, values).squeeze(2), keys, values


@wrong("cached_attention_step", "no scaling")
def scaled_by_the_query_length(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    w = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-2]), dim=-1)
    return w @ values, keys, values


@wrong("cached_attention_step", "the new key appended twice")
def new_key_appended_twice(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    keys, values = torch.cat([keys, k_new], dim=2), torch.cat([values, v_new], dim=2)
    return _attend(q, keys, values), keys, values


@right("cached_attention_step")
def sdpa_without_a_mask(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


@right("cached_attention_step")
def empty_cache_as_zero_length(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        past_k = past_v = q.new_zeros(*q.shape[:2], 0, q.shape[-1])
    keys = torch.cat([past_k, k_new], dim=-2)
    values = torch.cat([past_v, v_new], dim=-2)
    return _attend(q * 1.0, keys, values), keys, values


@wrong("cached_attention_step", "new position first")
def new_key_in_front(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([k_new, past_k], dim=2)
    values = v_new if past_v is None else torch.cat([v_new, past_v], dim=2)
    return _attend(q, keys, values), keys, values


@wrong("cached_attention_step", "÷ √(number of keys)")
def scaled_by_the_cache_length(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    w = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(keys.shape[2]), dim=-1)
    return w @ values, keys, values


@wrong("cached_attention_step", "weights gather the keys")
def mixes_the_keys(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    w = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ keys, keys, values


@wrong("cached_attention_step", "old cache returned")
def returns_what_it_was_given(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    return _attend(q, keys, values), past_k, past_v


@wrong("cached_attention_step", "÷ d_head")
def query_scaled_and_scores_scaled(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    q = q / math.sqrt(q.shape[-1])
    return _attend(q, keys, values), keys, values


@wrong("cached_attention_step", "k not transposed")
def keys_dot_t(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    w = torch.softmax(q @ keys.permute(*range(keys.dim() - 1, -1, -1)) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ values, keys, values


@described("cached_attention_step", "expected a tuple of 3 (out, keys, values)")
def cache_of_keys_only(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    return _attend(q, keys, values), keys


@wrong("cached_attention_step", "heads and query swapped")
def out_transposed(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    return _attend(q, keys, values).transpose(1, 2), keys, values


@right("cached_attention_step")
def none_compared_with_equals(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat((past_k, k_new), -2)
    values = v_new if past_v is None else torch.cat((past_v, v_new), -2)
    scores = torch.einsum("bhqd,bhkd->bhqk", q, keys) / q.shape[-1] ** 0.5
    return torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), values), keys, values


@wrong("cached_attention_step", "wrong axis")
def values_grown_on_the_last_axis(q, k_new, v_new, past_k, past_v):
    keys = _grown(past_k, k_new)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=-1)
    return _attend(q, keys, values), keys, values


@right("cached_attention_step")
def keys_times_query(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    scores = keys @ q.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, h, t + 1, 1)
    return torch.softmax(scores, dim=-2).transpose(-2, -1) @ values, keys, values


@right("cached_attention_step")
def first_step_returns_v_new(q, k_new, v_new, past_k, past_v):
    if past_k is None:  # one key: its weight is 1
        return v_new, k_new, v_new
    keys, values = torch.cat([past_k, k_new], 2), torch.cat([past_v, v_new], 2)
    return _attend(q, keys, values), keys, values


@wrong("cached_attention_step", "last position overwritten")
def written_into_the_last_slot(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        keys, values = k_new, v_new
    else:
        keys, values = past_k.clone(), past_v.clone()
        keys[:, :, -1:], values[:, :, -1:] = k_new, v_new  # replaces position t - 1
    return _attend(q, keys, values), keys, values


@right("cached_attention_step")
def weights_in_float64(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    scores = (q @ keys.mT).double() / math.sqrt(q.shape[-1])
    return (scores.softmax(dim=-1).to(q.dtype) @ values), keys, values


@wrong("cached_attention_step", "new key used as the query")
def key_in_the_query_slot(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    return _attend(k_new, keys, values), keys, values


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "mistake", "fn"), _battery.wrong_answers)
def test_a_wrong_answer_is_named(name, mistake, fn):
    result = exercise(name).check(fn)
    assert result.status == WRONG, result.message
    assert hint_of(name, mistake) in result.message, result.message


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "fn"), _battery.right_answers)
def test_a_right_answer_in_another_style_passes_without_a_warning(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message
    assert "beware" not in result.message and not result.warning, result.message


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "words", "fn"), DESCRIBED)
def test_a_slip_of_shape_or_kind_is_described_by_name(name, words, fn):
    result = exercise(name).check(fn)
    assert result.status == WRONG, result.message
    assert words in result.message, result.message
