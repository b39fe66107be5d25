# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 04 · Softmax and scaling
#
# Chapter 03 ended with a matrix of raw scores Q Kᵀ: any real numbers, positive or
# negative, large or small. To mix the values we need **weights**: positive numbers that
# add up to 1 in each row, like "40 % from this word, 25 % from that one".
#
# This chapter turns scores into weights with **softmax**, explains why the scores are
# divided by **√d<sub>k</sub>** first, and assembles the whole attention formula.

# %% slideshow={"slide_type": "skip"}
import math

import torch
import torch.nn.functional as F
from transformer_course import checks, figures, widgets
from transformer_course.attention import SingleHeadAttention, scaled_dot_product_attention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.examples import cat_example, video_search
from transformer_course.softmax import (
    entropy,
    naive_softmax,
    saturation_experiment,
    softmax_jacobian_norm,
    stable_softmax,
)
from transformer_course.tokenizer import course_vocab, tokenize

_ = torch.manual_seed(0)   # the same "random" numbers on every run
torch.set_printoptions(precision=3, sci_mode=False)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Softmax: from scores to probabilities
#
# Two steps for each row:
#
# 1. take **exp** of every score: everything becomes positive, and bigger scores grow much
#    bigger;
# 2. **divide by the row's total**, so the row sums to 1.
#
# $$\text{softmax}(x)_j = \frac{e^{x_j}}{\sum_m e^{x_m}}$$

# %% slideshow={"slide_type": "fragment"}
row = torch.tensor([2.0, 1.0, 0.1, -1.0])     # one query's scores against 4 keys
exps = row.exp()
weights = exps / exps.sum()
print("scores :", row)
print("exp    :", exps)
print("weights:", weights, f" sum = {float(weights.sum()):.3f}")

assert torch.isclose(weights.sum(), torch.tensor(1.0))
assert torch.allclose(weights, torch.softmax(row, dim=-1))

# %% [markdown] slideshow={"slide_type": "fragment"}
# The order is kept (the highest score gets the biggest weight), every weight is
# positive, even for a negative score, and no key is switched off completely.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### One softmax per row
#
# For a whole score matrix, each **row** (one query) gets its own softmax: `dim=-1`, the
# last dimension, which runs over the keys. Rows sum to 1; columns do not.

# %% slideshow={"slide_type": "fragment"}
scores = torch.randn(3, 5) * 2                 # 3 queries × 5 keys
weights = torch.softmax(scores, dim=-1)
print("row sums   :", weights.sum(dim=-1))
print("column sums:", weights.sum(dim=0))
assert torch.allclose(weights.sum(dim=-1), torch.ones(3))
assert not torch.allclose(weights.sum(dim=0), torch.ones(5))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Temperature: how sharp?
#
# Divide the scores by a number T before softmax. A small T stretches the gaps between
# scores, so the top key takes nearly everything; a large T squeezes them, so the weights
# even out. The same knob sets how adventurous text generation is (chapter 08).

# %% slideshow={"slide_type": "fragment"}
for T in (0.25, 1.0, 4.0):
    w = torch.softmax(row / T, dim=-1)
    print(f"T = {T:4}: weights {w}  entropy {float(entropy(w)):.2f}")   # entropy: explained just below

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Entropy** measures the spread of a row in one number: −Σ wᵢ log wᵢ, 0 when one key
# takes all the weight, log(4) ≈ 1.39 when the 4 keys share it equally. With the natural
# logarithm, as here, its unit is the **nat** (with log₂ it would be the bit: 1 nat ≈ 1.44
# bits). The course measures entropy, and later the loss, in nats.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why divide by √d<sub>k</sub>?
#
# The paper's formula is softmax(QKᵀ / √d<sub>k</sub>), not softmax(QKᵀ). The reason: a dot
# product adds up d<sub>k</sub> products. If the entries of q and k are independent random numbers
# with mean 0 and variance 1, each product has variance 1, and the sum of d<sub>k</sub> of them has
# **variance d<sub>k</sub>**. Longer vectors give bigger scores.

# %% slideshow={"slide_type": "fragment"}
for d_k in (4, 64, 1024):
    q = torch.randn(10_000, d_k)
    k = torch.randn(10_000, d_k)
    dots = (q * k).sum(dim=-1)                       # 10 000 dot products
    scaled = dots / math.sqrt(d_k)
    print(f"d_k = {d_k:4}: variance of q·k = {float(dots.var()):7.1f}, "
          f"after ÷√d_k = {float(scaled.var()):.2f}")
    assert abs(float(dots.var()) / d_k - 1) < 0.1 and abs(float(scaled.var()) - 1) < 0.1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Big scores make softmax saturate
#
# With d<sub>k</sub> = 512, the scores have a standard deviation of √512 ≈ 22.6: the scores of one
# row lie tens of points apart. exp turns a gap g into a factor e<sup>g</sup>, so a gap of 5 is
# already a factor of about 150, and a gap of 40 one of about 10<sup>17</sup>. Below, the best of
# 8 keys leads the next by about 7, a factor of nearly 900, and takes practically all
# the weight: softmax is **saturated**, one weight near 1 and the rest near 0. Dividing by
# √512 ≈ 22.6 shrinks every gap as many times, back to a range where several keys share the
# attention.

# %% slideshow={"slide_type": "fragment"}
d_k = 512
draw = torch.Generator().manual_seed(7)                # its own numbers: the same on every rerun
q = torch.randn(1, d_k, generator=draw)
k = torch.randn(8, d_k, generator=draw)                # 8 keys
raw = (q @ k.T)[0]                                     # (8,)
best, second = raw.topk(2).values                      # the two largest scores
gap = float(best - second)
print(f"scores from {float(raw.min()):.1f} to {float(raw.max()):.1f}; "
      f"the best key leads by {gap:.1f}, a factor e^{gap:.1f} = {math.exp(gap):.0f}")
raw_scaled = raw / math.sqrt(d_k)                      # the same scores ÷ √512
weights_raw = torch.softmax(raw, dim=-1)
weights_scaled = torch.softmax(raw_scaled, dim=-1)
for name, w in (("QKᵀ       ", weights_raw), ("QKᵀ / √d_k", weights_scaled)):
    print(f"{name}: largest weight {float(w.max()):.3f}, entropy {float(entropy(w)):.2f}")
assert 5.5 < gap < 8 and weights_raw.max() > 0.99     # a gap of about 7: one key takes practically all
assert weights_scaled.max() < 0.5                      # scaled: several keys share
assert raw.max() - raw.min() > 20                      # the row's scores lie tens of points apart

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### …and gradients vanish
#
# Training adjusts W<sub>Q</sub> and W<sub>K</sub> through the gradient of softmax. When one weight is ~1 and
# the others ~0, nudging any score barely changes the weights: the gradient is close to
# zero, and learning stalls. Here it is measured with autograd. Softmax has 8 outputs for 8
# scores, so its gradient is an 8 × 8 matrix, the **Jacobian**: entry (i, j) says how much
# weight i moves when score j is nudged. Its size is the norm: √(sum of its squared entries).

# %% slideshow={"slide_type": "fragment"}
def softmax_gradient_size(s: torch.Tensor) -> float:
    """Size of ∂softmax/∂scores (the Jacobian's norm), via autograd."""
    jac = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, dim=-1), s)
    return float(jac.norm())


unscaled_grad = softmax_gradient_size(raw)
scaled_grad = softmax_gradient_size(raw_scaled)
print(f"gradient size, QKᵀ: {unscaled_grad:.4f}   QKᵀ/√d_k: {scaled_grad:.4f}")
assert unscaled_grad < scaled_grad / 5
# the lib's closed form for the same quantity
assert math.isclose(float(softmax_jacobian_norm(torch.softmax(raw, -1))), unscaled_grad, rel_tol=1e-3,
                    abs_tol=1e-6)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The whole picture, for d<sub>k</sub> from 1 to 1024
#
# The lib's `saturation_experiment` repeats this for 256 random queries of 16 keys each:

# %% slideshow={"slide_type": "fragment"}
sat = saturation_experiment((1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), length=16, rows=256)
print("d_k      :", list(sat.d_k))
print("entropy  :", [round(x, 2) for x in sat.entropy.tolist()], "(no scaling)")
print("entropy  :", [round(x, 2) for x in sat.scaled_entropy.tolist()], "(÷√d_k)")
assert sat.entropy[-1] < 0.25 * sat.entropy[0]                            # collapses
assert (sat.scaled_entropy - sat.scaled_entropy[0]).abs().max() < 0.15    # stays put
figures.saturation_figure(sat, "entropy", title="Without scaling, rows collapse onto one key")

# %% slideshow={"slide_type": "subslide"}
assert sat.d_k[int(sat.grad_norm.argmax())] == 4                              # unscaled: rises up to 4,
assert 0.15 < float(sat.grad_norm[-1] / sat.grad_norm.max()) < 0.25           # then fades to a fifth
assert (sat.scaled_grad_norm - sat.scaled_grad_norm[0]).abs().max() < 0.05    # flat, scaled
figures.saturation_figure(sat, "grad_norm", title="…and the softmax gradient fades")

# %% [markdown] slideshow={"slide_type": "fragment"}
# The red-orange line, raw QKᵀ: as d<sub>k</sub> grows, the entropy drops towards 0 (one key takes
# all) and the gradient, after a small rise up to d<sub>k</sub> = 4, shrinks to a fifth of that
# peak. The blue line, divided by √d<sub>k</sub>: the scores keep variance 1 whatever
# d<sub>k</sub> is, so both curves stay flat. That is the whole reason for the √d<sub>k</sub>.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Numerical stability: subtract the row maximum
#
# exp grows fast: exp(89) is already too big for a float32 and becomes `inf`, and
# inf / inf is `NaN`. Unscaled scores, long vectors or a low temperature easily push
# scores that high.

# %% slideshow={"slide_type": "fragment"}
assert torch.tensor(88.0).exp().isfinite() and torch.tensor(89.0).exp().isinf()   # float32's limit
big = torch.tensor([1000.0, 999.0, 990.0])
print("naive  :", naive_softmax(big))
assert torch.isnan(naive_softmax(big)).all()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The fix uses a property of softmax: subtracting the same number c from every score of a
# row changes nothing, because e<sup>x−c</sup> = e<sup>x</sup> · e<sup>−c</sup>, and the factor e<sup>−c</sup>
# cancels between top and bottom. Choose c = the row's maximum: the biggest exponent becomes
# e<sup>0</sup> = 1, and nothing can overflow.

# %% slideshow={"slide_type": "fragment"}
shifted = big - big.max()                            # [0, -1, -10]
stable = shifted.exp() / shifted.exp().sum()
print("shifted:", shifted, "→", stable)

assert torch.isfinite(stable).all()
assert torch.allclose(stable, torch.softmax(big, dim=-1))
assert torch.allclose(stable, stable_softmax(big))   # the lib's version
small = torch.tensor([2.0, 1.0, 0.1])
assert torch.allclose(naive_softmax(small), naive_softmax(small - 5.0))   # shifting changes nothing

# %% [markdown] slideshow={"slide_type": "fragment"}
# `torch.softmax` does this internally; the lib's `stable_softmax` spells it out.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: a softmax that never overflows
#
# Write `my_softmax(scores)` for scores of any shape (..., Lk): a softmax over the **last**
# dimension that works even for scores of 1000 and more (the checker tries rows up to
# 2000). Use `exp`, `sum` and `max`, not `torch.softmax`.

# %% slideshow={"slide_type": "fragment"}
def my_softmax(scores: torch.Tensor) -> torch.Tensor:
    """scores (..., Lk) → weights (..., Lk), each row summing to 1, no overflow."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_softmax(my_softmax)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def softmax_solution(scores: torch.Tensor) -> torch.Tensor:
    """scores (..., Lk) → weights (..., Lk), each row summing to 1, no overflow."""
    row_max = scores.max(dim=-1, keepdim=True).values    # (..., 1): each row's own max
    e = (scores - row_max).exp()                          # largest entry is exp(0) = 1
    return e / e.sum(dim=-1, keepdim=True)


assert checks.check_softmax(softmax_solution).passed
assert torch.allclose(softmax_solution(big), stable)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The weighted sum of the values
#
# With one row of weights per query, each token's output is a **mix of all the value
# vectors**, weighted by how much it attends to each:
#
# $$\text{output}_i = \sum_j a_{ij}\, v_j \qquad \text{i.e.} \qquad \text{output} = A V$$
#
# A is the matrix of attention weights (one row per query); W<sub>Q</sub>, W<sub>K</sub> and W<sub>V</sub>
# stay the names of the three projections. Every token leaves the layer as a context-aware blend
# of the tokens it looked at.

# %% slideshow={"slide_type": "fragment"}
L, d_k, d_v = 4, 8, 3
Q, K, V = torch.randn(L, d_k), torch.randn(L, d_k), torch.randn(L, d_v)
A = torch.softmax(Q @ K.T / math.sqrt(d_k), dim=-1)                  # (L, L): attention weights
out = A @ V                                                            # (L, d_v)

mix_for_token_0 = sum(A[0, j] * V[j] for j in range(L))               # by hand, for token 0
assert torch.allclose(out[0], mix_for_token_0, atol=1e-6)
print("weights of token 0:", A[0])
print("its output        :", out[0])

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Back to the video search
#
# Chapter 03 matched the query "movie reviews" against four titles (the keys) and gave
# each video a value: its minutes of film scenes, of someone talking, of cooking. Now the
# search can finish: softmax turns the four scores into weights (divided by √3 first, as
# the formula will say: queries and keys have 3 features), and what you "watch" is the
# weighted mix of the four videos.

# %% slideshow={"slide_type": "fragment"}
search = video_search()                                         # chapter 03's numbers
video_scores = search.keys @ search.query / math.sqrt(3)        # (4,): one score per title
video_weights = torch.softmax(video_scores, dim=-1)             # (4,): positive, sum to 1
watched = video_weights @ search.values                          # (4,) @ (4, 3) → (3,)
for title, score, weight in zip(search.titles, video_scores, video_weights):
    print(f"{title:36s} score {float(score):.2f} → weight {float(weight):.2f}")
print("what you get:", ", ".join(f"{m:.1f} min of {c}" for c, m in zip(search.contents, watched.tolist())))

assert int(video_weights.argmax()) == 0 and float(video_weights.min()) > 0   # reviews first, none at 0
assert torch.allclose(watched, sum(w * v for w, v in zip(video_weights, search.values)))
assert watched[0] > watched[2] and watched[1] > watched[2]                  # films and talk, little cooking

# %% [markdown] slideshow={"slide_type": "fragment"}
# The reviews take the largest share (0.41), but no video is switched off: even the pasta
# video adds its 0.13. That is the "soft" in soft search.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Back to "I'm playing with a cat"
#
# Chapter 03 chose W<sub>Q</sub>, W<sub>K</sub> and W<sub>V</sub> by hand so that the query of "i'm" meets the
# key of "cat", and each word hands over its own four features (person, animal, action, small
# word). Now follow the numbers to the end: scores, ÷ √d<sub>k</sub> (d<sub>k</sub> = 2),
# softmax, weighted sum.

# %% slideshow={"slide_type": "fragment"}
cat = cat_example()                                             # chapter 03's numbers
q_cat, k_cat, v_cat = cat.x @ cat.w_q, cat.x @ cat.w_k, cat.x @ cat.w_v   # (5, 2), (5, 2), (5, 4)


def cat_attention(q):
    """The hand-built head with queries q (5, 2) → weights A (5, 5) and outputs (5, 4)."""
    a = torch.softmax(q @ k_cat.T / math.sqrt(2), dim=-1)
    return a, a @ v_cat


def named(names, numbers):
    return "  ".join(f"{name} {float(x):.2f}" for name, x in zip(names, numbers))


A_cat, out_cat = cat_attention(q_cat)
print("weights of i'm:", named(cat.tokens, A_cat[0]))
print("output of i'm: ", named(cat.features, out_cat[0]))
assert int(A_cat[0].argmax()) == 4 and 0.3 < float(A_cat[0, 4]) < 0.4        # cat first, with only 0.34

# %% [markdown] slideshow={"slide_type": "subslide"}
# "cat" gets the largest weight, but only 0.34: a score of 1 against 0, divided by √2,
# is a small gap, and softmax is gentle with small gaps (chapter 03's matrices held only
# 0s and 1s). So "i'm" leaves with as much "small word" as "animal". A trained model
# makes its projections as large as the job needs. Make W<sub>Q</sub> four times stronger: the
# scores grow to 4, and the same softmax now picks "cat".

# %% slideshow={"slide_type": "fragment"}
A_sharp, out_sharp = cat_attention(4 * q_cat)                  # W_Q × 4: the queries × 4
print("weights of i'm:    ", named(cat.tokens, A_sharp[0]))
print("output of i'm:     ", named(cat.features, out_sharp[0]))
print("output of playing: ", named(cat.features, out_sharp[1]))
assert float(A_sharp[0, 4]) > 0.8 and float(out_sharp[0, 1]) > 0.8         # i'm now carries "animal"
assert float(A_sharp[1, 0]) > 0.8 and float(out_sharp[1, 0]) > 0.8         # playing carries "person"
assert torch.allclose(A_sharp[4], torch.full((5,), 0.2))                  # cat asks nothing: even weights

# %% [markdown] slideshow={"slide_type": "fragment"}
# Now "i'm" leaves the layer carrying 0.81 of "animal": it has picked up, from the
# sentence, that it is playing with an animal. "playing" picked up its doer, a person.
# "cat" asks for nothing (its query is zero), so its weights are even, 0.2 each, and its
# output is the average of the sentence.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## The whole formula: one attention head
#
# $$\text{Attention}(Q, K, V) = \text{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V$$
#
# The lib's `scaled_dot_product_attention` computes exactly this and also returns the
# weights, so the figures can show them. PyTorch ships its own fused version: they agree.

# %% slideshow={"slide_type": "fragment"}
lib_out, lib_weights = scaled_dot_product_attention(Q, K, V)   # Q, K, V, out, A: "The weighted sum" above
assert torch.allclose(lib_out, out, atol=1e-6) and torch.allclose(lib_weights, A, atol=1e-6)
assert torch.allclose(lib_out, F.scaled_dot_product_attention(Q, K, V), atol=1e-6)

batch = torch.randn(2, 6, 16)                                          # 2 sentences, 6 tokens
head = SingleHeadAttention(d_model=16, d_k=8)
head_out, head_weights = head(batch)
reference = F.scaled_dot_product_attention(head.w_q(batch), head.w_k(batch), head.w_v(batch))
assert torch.allclose(head_out, reference, atol=1e-5)
assert torch.allclose(head_weights.sum(-1), torch.ones(2, 6), atol=1e-6)
print("lib == F.scaled_dot_product_attention; SingleHeadAttention:", tuple(batch.shape), "→",
      tuple(head_out.shape), "weights", tuple(head_weights.shape))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: one head of attention
#
# Write `my_attention(x, w_q, w_k, w_v)`: x is (L, d<sub>model</sub>), the projections are
# (d<sub>model</sub>, d<sub>k</sub>), (d<sub>model</sub>, d<sub>k</sub>) and (d<sub>model</sub>,
# d<sub>v</sub>). Return `(output, weights)` with output (L, d<sub>v</sub>) and weights (L, L), following
#
# $$\text{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V, \qquad Q = xW_Q,\; K = xW_K,\; V = xW_V$$
#
# You may use `torch.softmax` (or your `my_softmax`). Read d<sub>k</sub> from the tensors,
# `q.shape[-1]`: the checker tries heads of several sizes, and the notebook's own `d_k` (from the
# cells above) is none of them.

# %% slideshow={"slide_type": "fragment"}
def my_attention(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor,
                 w_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (L, d_model) → output (L, d_v), weights (L, L)."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_attention(my_attention)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def attention_solution(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor,
                       w_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (L, d_model) → output (L, d_v), weights (L, L)."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v                   # (L, d_k), (L, d_k), (L, d_v)
    scores = q @ k.T / math.sqrt(q.shape[-1])             # √d_k: the width of q and k, not of x
    weights = torch.softmax(scores, dim=-1)               # one distribution per query row
    return weights @ v, weights


assert checks.check_attention(attention_solution).passed
w_q, w_k, w_v = (layer.weight.T for layer in (head.w_q, head.w_k, head.w_v))   # nn.Linear: W transposed
mine, mine_weights = attention_solution(batch[0], w_q, w_k, w_v)
assert torch.allclose(mine, head_out[0], atol=1e-5)                   # the lib's head, sentence 0
assert torch.allclose(mine_weights, head_weights[0], atol=1e-6)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: temperature, scaling and d<sub>k</sub>
#
# The sentence's tokens are projected to queries and keys of size d<sub>k</sub> by random
# projections, scaled so that the entries of q and k have variance 1, as in the argument
# above. Left: the attention weights; right: each row's entropy, with the dotted line at
# "perfectly even".
#
# - Untick **divide by √d<sub>k</sub>** and raise **d<sub>k</sub>** to 512: most rows turn into a single
#   strong cell and their entropy bars fall to about 0.
# - Tick it again: whatever d<sub>k</sub>, the scores' standard deviation (the line under the
#   controls prints it) stays between about 0.5 and 1 for this sentence, where unscaled it
#   grows to 21 at d<sub>k</sub> = 512, and the rows stay spread out. Both spreads on that line
#   run below what the argument above predicts (1, and √d<sub>k</sub>: 5.9 rather than 8 at
#   d<sub>k</sub> = 64): one sentence's 121 scores are a small sample, not the 10 000 dot
#   products above.
# - Move **temperature**: below 1 sharpens, above 1 flattens.
# - Notice that the two "the" always attend alike: same word, same vectors.

# %% slideshow={"slide_type": "subslide"}
vocab = course_vocab()
unit_embed = TokenEmbedding(len(vocab), 32, scale=False)   # entries ~ N(0, 1)
widgets.ScalingExplorer(vocab, unit_embed, "the pizza came out of the oven and it tasted good",
                        d_k=64, temperature=1.0, scaled=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Q and K are not born as attention
#
# In "the pizza came out of the oven and it tasted good", "it" means the pizza. Does a
# fresh attention head know? Its W<sub>Q</sub> and W<sub>K</sub> are random numbers.

# %% slideshow={"slide_type": "fragment"}
tokens = tokenize("the pizza came out of the oven and it tasted good")
x = unit_embed(torch.tensor(vocab.ids(tokens))).detach().unsqueeze(0)    # (1, 11, 32)
with torch.random.fork_rng():                                # its own numbers: the same on every rerun
    torch.manual_seed(0)
    fresh = SingleHeadAttention(d_model=32, d_k=16)
with torch.no_grad():
    _, fresh_weights = fresh(x)
it = tokens.index("it")
print("weights of 'it':", "  ".join(f"{t} {float(w):.2f}" for t, w in zip(tokens, fresh_weights[0, it])))
it_row = fresh_weights[0, it]                                # (11,): the weights of "it"
assert it_row.max() < 0.2                                    # spread out: no key stands out
assert abs(it_row[tokens.index("pizza")] - it_row[tokens.index("the")]) < 0.03   # "pizza" no more than "the"

# %% slideshow={"slide_type": "subslide"}
figures.attention_heatmap(fresh_weights[0], tokens, title="An untrained head: no meaning yet")

# %% [markdown] slideshow={"slide_type": "fragment"}
# The weights of "it" are spread out: none reaches 0.2 (an even share is 1/11 ≈ 0.09).
# "pizza" is among the larger ones, but "the" gets as much: whichever key comes out on
# top is chance, not meaning.
# Softmax and √d<sub>k</sub> make attention *well-behaved*; they do not make it *smart*. The
# projections become meaningful only when training changes W<sub>Q</sub>, W<sub>K</sub> and W<sub>V</sub> to
# lower the model's error. Chapter 08 trains a small model to point from "it" to the right noun:
# that link is trained directly, but on the way one of its heads learns, unasked, to look
# from "it" at the words that decide ("tasted good" or "was broken"). In chapter 09, a GPT
# trained only to predict the next word of stories grows heads that look from "it" back to
# the food it means, though nothing in its training mentions pronouns.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
#
# - **Softmax** turns each row of scores into positive weights summing to 1 (`dim=-1`).
# - Dot products of random vectors have **variance d<sub>k</sub>**; without dividing by **√d<sub>k</sub>**,
#   softmax saturates on one key and its gradient vanishes. Temperature is the same knob
#   turned by hand.
# - Subtract each row's **maximum** before exp: same result, no overflow.
# - Each output is the **weighted sum of the values**:
#   Attention(Q, K, V) = softmax(QKᵀ/√d<sub>k</sub>) V, which matches `F.scaled_dot_product_attention`.
#   Chapter 03's "i'm" gives "cat" 0.34 of its weight with 0/1 projections, 0.81 with
#   projections four times stronger, and leaves carrying "animal".
# - Random W<sub>Q</sub> and W<sub>K</sub> give meaningless weights: training makes them
#   meaningful (chapter 08).
#
# Next: **05 Multi-head attention**: several heads side by side, each free to look for
# something different.
