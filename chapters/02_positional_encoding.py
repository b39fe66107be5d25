# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 02 · Positional encoding: where is each word?
#
# "Squatch eats pizza" is a good day for Squatch. "Pizza eats Squatch" is a horror film.
# **Same words, different order, different meaning.**
#
# An RNN reads words one after the other, so it knows their order for free. A
# Transformer looks at all words at once, and, as this chapter shows, attention on its
# own is blind to order. The fix is to add to each word vector a signal that says where
# the word stands.

# %% slideshow={"slide_type": "skip"}
import math

import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks, figures, widgets
from transformer_course.attention import MultiHeadAttention
from transformer_course.embeddings import TokenEmbedding, similarity_matrix
from transformer_course.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    shift_matrix,
    sinusoidal_encoding,
)
from transformer_course.tokenizer import course_vocab, tokenize

_ = torch.manual_seed(0)   # the same "random" numbers on every run

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Attention alone cannot see order
#
# Take a self-attention layer (chapters 03–05 build it; here we just use the lib's
# `MultiHeadAttention`) and feed it the embedded words of a sentence.

# %% slideshow={"slide_type": "fragment"}
_ = torch.manual_seed(0)   # run again, this cell draws the same layer, and the numbers below hold
vocab = course_vocab()
d_model = 16
embed = TokenEmbedding(len(vocab), d_model, scale=False)
attention = MultiHeadAttention(d_model, num_heads=2)
with torch.no_grad():
    attention.q_proj.weight.mul_(3)   # sharper random attention: its pattern is easier to see

tokens = tokenize("Squatch eats pizza")
x = embed(torch.tensor(vocab.ids(tokens))).unsqueeze(0)        # (1, 3, d_model)
with torch.no_grad():
    out, weights = attention(x)                                 # (1, 3, d_model), (1, 2, 3, 3)
print(tokens, "→ output", tuple(out.shape))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now shuffle the words: feed the same vectors in another order.

# %% slideshow={"slide_type": "fragment"}
perm = torch.tensor([2, 1, 0])                                  # pizza eats squatch
with torch.no_grad():
    out_shuffled, weights_shuffled = attention(x[:, perm])

print("shuffled tokens:", [tokens[i] for i in perm])
# Each word's output is unchanged; it just moved to the word's new place.
assert torch.allclose(out_shuffled, out[:, perm], atol=1e-6)
# The attention weights are shuffled along both rows (queries) and columns (keys).
assert torch.allclose(weights_shuffled, weights[:, :, perm][:, :, :, perm], atol=1e-6)

# %% [markdown] slideshow={"slide_type": "fragment"}
# This property has a name: self-attention is **permutation-equivariant**. Shuffle the
# input tokens and the outputs come out shuffled the same way, with exactly the same
# values. To the layer, "Squatch eats pizza" is a *bag* of three words: "squatch" gets
# the very same vector whether it eats or is eaten.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Explore: same words, different order
#
# Two sentences with the same words. The heatmaps show the attention of each (averaged
# over the two heads); the bars show, word by word, **how far its output moves** between
# sentence A and sentence B: |out<sub>A</sub> − out<sub>B</sub>| as a percentage of the
# length of out<sub>A</sub>.
#
# - As it starts, every bar reads **0.0 %**: each word gets exactly the same output in
#   both sentences, so the layer cannot tell them apart.
# - Tick **add positional encoding**: every bar rises (here by a quarter to more than half
#   of the output's length, measured below) and the heatmaps change.
# - Try your own pair, e.g. "the dog saw the cat" / "the cat saw the dog". The changes
#   can be much smaller: nothing in a random layer makes it pay much
#   attention to positions. Training is what teaches a model to use them.

# %% slideshow={"slide_type": "subslide"}
order = widgets.WordOrderExplorer(vocab, embed, attention,
                                  text_a="Squatch eats pizza", text_b="Pizza eats Squatch")
without_positions = order.word_changes(positions=False)       # (3,): one change per word of A
with_positions = order.word_changes(positions=True)
for word, a, b in zip(tokenize("Squatch eats pizza"), without_positions, with_positions):
    print(f"{word:8s} output moves by {100 * a:4.1f} % without positions, {100 * b:4.1f} % with them")
assert without_positions.max() < 1e-5                           # the same output in both orders
assert with_positions.min() > 0.2 and with_positions.max() > 0.5  # every word moves, one by over half
order

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The sinusoidal encoding
#
# The original paper gives each position `pos` a vector of d<sub>model</sub> numbers, built from
# sine and cosine waves. Dimensions come in pairs (2i, 2i+1), one pair per frequency:
#
# $$PE(pos, 2i) = \sin\!\left(\frac{pos}{10000^{2i/d_{model}}}\right) \qquad
#   PE(pos, 2i+1) = \cos\!\left(\frac{pos}{10000^{2i/d_{model}}}\right)$$
#
# Pair 0 turns fastest (wavelength 2π positions); each next pair turns slower, the
# wavelengths growing geometrically towards 2π · 10000 (the last pair's is
# 2π · 10000<sup>(d<sub>model</sub>−2)/d<sub>model</sub></sup>, just short of it).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: the sinusoidal encoding
#
# Before we build it together, write it from the formula: `my_sinusoidal_encoding(length,
# d_model)` returns the (length, d<sub>model</sub>) table, sine in the even dimensions, cosine in the
# odd ones, with the frequency of pair i equal to 1 / 10000<sup>2i/d<sub>model</sub></sup>. Row pos holds
# position pos, counting from 0. Assume d<sub>model</sub> is even. The next cells then build it
# step by step.

# %% slideshow={"slide_type": "fragment"}
def my_sinusoidal_encoding(length: int, d_model: int) -> torch.Tensor:
    """The paper's positional encoding, shape (length, d_model)."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_sinusoidal_encoding(my_sinusoidal_encoding)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def sinusoidal_encoding_solution(length: int, d_model: int) -> torch.Tensor:
    """The paper's positional encoding, shape (length, d_model)."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]          # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)          # (d/2,): 2i per pair
    angle = pos / 10000 ** (two_i / d_model)                          # (L, d/2)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


assert checks.check_sinusoidal_encoding(sinusoidal_encoding_solution).passed

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Built step by step in plain torch

# %% slideshow={"slide_type": "fragment"}
length, d_model = 10, 8

pos = torch.arange(length).float()[:, None]            # (L, 1): 0, 1, …, L-1
two_i = torch.arange(0, d_model, 2).float()             # (d/2,): 0, 2, 4, 6 = 2i for each pair
frequency = 1.0 / 10000 ** (two_i / d_model)            # (d/2,): 1, 0.1, 0.01, 0.001
angle = pos * frequency                                  # (L, d/2): one angle per position and pair

pe = torch.zeros(length, d_model)
pe[:, 0::2] = torch.sin(angle)                           # even dimensions: sine
pe[:, 1::2] = torch.cos(angle)                           # odd dimensions: cosine
print("frequencies:", [f"{f:g}" for f in frequency.tolist()])
print(pe[:3].numpy().round(3))

# %% slideshow={"slide_type": "fragment"}
assert torch.allclose(pe, sinusoidal_encoding(*pe.shape), atol=1e-6)
assert (pe[0, 0::2] == 0).all() and (pe[0, 1::2] == 1).all()
print("the lib's sinusoidal_encoding matches; position 0 is (0, 1, 0, 1, …)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The whole table as a picture
#
# Positions go down, dimensions go across. The left columns flicker from row to row
# (fast waves); the right columns barely change (slow waves). Every row is a different
# pattern: a unique fingerprint for each position. Like the hands of a clock: the second
# hand alone cannot tell 12:00:10 from 12:01:10, but together with the slower hands
# every moment has its own reading.

# %% slideshow={"slide_type": "fragment"}
figures.positional_heatmap(sinusoidal_encoding(50, 64),
                           title="Sinusoidal encoding: 50 positions × 64 dimensions")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Waves of different frequencies
#
# Each column, read down the positions, is a wave. Here are the sine columns of pairs 0,
# 5 and 10 of a 64-dimensional encoding: the further right the pair, the slower its
# wave. (The explorer below also shows each sine with its cosine partner.)

# %% slideshow={"slide_type": "fragment"}
pe64 = sinusoidal_encoding(64, 64)
for i in (0, 5, 10):
    wavelength = 2 * math.pi * 10000 ** (2 * i / 64)
    print(f"pair i = {i} (dims {2 * i}, {2 * i + 1}): wavelength {wavelength:6.1f} positions")
figures.waves_figure(pe64, [0, 10, 20], title="Sines of pairs 0, 5 and 10 (dims 0, 10, 20): fast to slow")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Encodings are added to the word vectors
#
# The position vector has the same size as the word vector, and the two are simply
# **added**: the sum carries *what* the word is and *where* it is. The lib's
# `SinusoidalPositionalEncoding` does exactly this addition.

# %% slideshow={"slide_type": "fragment"}
d_model = 16
add_position = SinusoidalPositionalEncoding(d_model, max_len=64)
ids = torch.tensor(vocab.ids(tokenize("pizza eats pizza")))
with torch.no_grad():
    words = embed(ids).unsqueeze(0)                      # (1, 3, 16): what
    both = add_position(words)                           # (1, 3, 16): what + where

assert torch.allclose(both, words + sinusoidal_encoding(3, d_model))
assert torch.equal(words[0, 0], words[0, 2])             # the same word, the same vector…
assert not torch.allclose(both[0, 0], both[0, 2])        # …until its position is added
cos = F.cosine_similarity(both[0, 0], both[0, 2], dim=0)
print(f"'pizza' at position 0 vs position 2: cosine {cos:.2f} (it was 1.00 before)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why add, and not concatenate?
#
# Gluing the position vector on after the word vector, [word, position], would keep the
# two apart for sure. But every layer that reads its input starts with a linear map
# (W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub> in the next chapters), and a linear map of a
# concatenation is a **sum** of two maps: [word, position] · W = word · W<sub>top</sub> +
# position · W<sub>bottom</sub>. So concatenating buys little that adding cannot do, and it
# doubles the width every later layer must read. Adding keeps d<sub>model</sub> as it is; the
# price is that words and positions share the same numbers,
# and training has to keep them from getting in each other's way.

# %% slideshow={"slide_type": "fragment"}
pe3 = sinusoidal_encoding(3, d_model)                    # (3, 16): where
W = torch.randn(2 * d_model, d_model)                    # a linear map reading [word, position]
concatenated = torch.cat([words[0], pe3], dim=-1) @ W    # (3, 32) @ (32, 16) → (3, 16)
two_maps = words[0] @ W[:d_model] + pe3 @ W[d_model:]    # (3, 16): a sum of two (16, 16) maps
assert torch.allclose(concatenated, two_maps, atol=1e-5)
print("[word, position] · W = word · W_top + position · W_bottom")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Nearby positions look alike
#
# Compare position vectors with each other: neighbours are very similar, far-apart
# positions less so. And the similarity depends only on the **distance**, not on where
# you start: position 5 relates to 8 as position 40 relates to 43.

# %% slideshow={"slide_type": "fragment"}
sim = similarity_matrix(pe64, "cosine")                 # (64, 64): pe64, the table of 64 above
print("similarity of position 0 with positions 0..10:", sim[0, :11].numpy().round(2))

assert torch.allclose(sim[5, 8], sim[40, 43], atol=1e-5)           # only the distance matters
near = torch.stack([sim.diagonal(k).mean() for k in range(1, 4)])   # distances 1-3
far = torch.stack([sim.diagonal(k).mean() for k in range(30, 40)])  # distances 30-39
assert near.min() > far.max()
print(f"mean similarity at distance 1-3: {near.mean():.2f}, at distance 30-39: {far.mean():.2f}")

# %% slideshow={"slide_type": "subslide"}
figures.similarity_heatmap(sim[:32, :32], [str(p) for p in range(32)],
                           title="Cosine similarity between positions 0-31", axis_title="position")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why sines and cosines: a step is a rotation
#
# The paper chose sinusoids for a reason it states: for any fixed offset k, PE(pos + k) is
# a **fixed linear function** of PE(pos). Take one pair of dimensions with frequency ω.
# The angle-addition formulas say
#
# $$\begin{pmatrix}\sin((pos+k)\omega)\\ \cos((pos+k)\omega)\end{pmatrix} =
#   \begin{pmatrix}\cos k\omega & \sin k\omega\\ -\sin k\omega & \cos k\omega\end{pmatrix}
#   \begin{pmatrix}\sin(pos\,\omega)\\ \cos(pos\,\omega)\end{pmatrix}$$
#
# The 2 × 2 matrix is a **rotation** by the angle kω, and it does not depend on pos. Put
# one such block per pair on the diagonal and you get one d<sub>model</sub> × d<sub>model</sub> matrix
# M<sub>k</sub> (the lib's `shift_matrix`) that moves **every** position k steps on. A layer that has
# learned "look 3 words back" can therefore use the same weights at every position.

# %% slideshow={"slide_type": "subslide"}
exact = sinusoidal_encoding(64, 64, dtype=torch.float64)   # float64: errors near 1e-15
for k in (1, 3, 10):
    M = shift_matrix(k, 64, dtype=torch.float64)         # (64, 64): 32 rotation blocks
    moved = exact[:-k] @ M.T                             # M_k applied to positions 0 … 63-k at once
    assert torch.allclose(moved, exact[k:], atol=1e-12)  # = positions k … 63, exactly
    assert torch.allclose(M @ M.T, torch.eye(64, dtype=torch.float64), atol=1e-12)   # a rotation
    print(f"k = {k:2d}: PE(pos + {k}) = M_{k} · PE(pos) for all {64 - k} positions; "
          f"largest error {float((moved - exact[k:]).abs().max()):.1e}")
print("the 2 × 2 block of pair 0 for k = 1:\n", shift_matrix(1, 64)[:2, :2].numpy().round(3))

# %% [markdown] slideshow={"slide_type": "fragment"}
# A rotation keeps lengths and angles, which is why the similarity above depends only on
# the distance: PE(pos) · PE(pos + k) = Σ cos(kω) over the pairs, whatever pos is. An
# untrained learned table has no such map (you will check it below): it has to learn
# one, if it needs one.

# %% slideshow={"slide_type": "fragment"}
k, omegas = 3, 1.0 / 10000 ** (torch.arange(0, 64, 2, dtype=torch.float64) / 64)
dots = (exact[:-k] * exact[k:]).sum(dim=1)               # PE(pos) · PE(pos + 3) for every pos
assert torch.allclose(dots, torch.cos(k * omegas).sum().expand_as(dots), atol=1e-10)
print(f"PE(pos) · PE(pos + 3) = {float(dots[0]):.4f} for every pos = Σ cos(3ω) = "
      f"{float(torch.cos(k * omegas).sum()):.4f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The other option: learned position embeddings
#
# Instead of a formula, keep a second lookup table, this time with **one row per
# position**, and let training fill it in. That is an `nn.Embedding` over positions
# 0, 1, 2, …, used like this:
#
# ```python
# positions = torch.arange(seq_len).expand(batch, seq_len)
# x = word_embedding(tokens) + position_embedding(positions)
# ```
#
# BERT and GPT-2 do it this way. The lib's `LearnedPositionalEmbedding` holds such a table.

# %% slideshow={"slide_type": "fragment"}
learned = LearnedPositionalEmbedding(d_model, max_len=32)
assert isinstance(learned.table, nn.Embedding)
positions = torch.arange(3).expand(1, 3)                # (batch, seq_len)
with torch.no_grad():
    assert torch.allclose(learned(words), words + learned.table(positions))
print("parameters, learned:   ", sum(p.numel() for p in learned.parameters()), "(= 32 positions × 16)")
print("parameters, sinusoidal:", sum(p.numel() for p in add_position.parameters()))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Longer than anything seen in training
#
# The formula works for any position. A learned table has no row for position 40 if it
# was built with 32 rows: the model cannot handle longer inputs at all.

# %% slideshow={"slide_type": "fragment"}
long_input = torch.zeros(1, 40, d_model)
print("sinusoidal, 40 positions:", tuple(sinusoidal_encoding(40, d_model).shape))
try:
    learned(long_input)
except ValueError as err:
    print("learned, 40 positions:   ValueError:", err)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Untrained, a learned table is noise
#
# Before training, its rows are random: neighbours are no more alike than distant
# positions, so the structure must be *learned*. Compared with a sinusoidal table of its size:

# %% slideshow={"slide_type": "fragment"}
with torch.no_grad():
    learned_sim = similarity_matrix(learned.pe, "cosine")                          # (32, 32)
same_size_sim = similarity_matrix(sinusoidal_encoding(32, d_model), "cosine")      # (32, 32)
print(f"mean similarity of neighbours, 32 positions × {d_model} dimensions: "
      f"learned {learned_sim.diagonal(1).mean():+.2f}, sinusoidal {same_size_sim.diagonal(1).mean():+.2f}")
assert learned.pe.shape == (32, d_model)
assert learned_sim.diagonal(1).mean().abs() < 0.3 < same_size_sim.diagonal(1).mean()

# No fixed linear map takes each learned row to the next: even the best one (least squares)
# misses by most of a row's length, where the sinusoidal table is hit exactly.
# (In float64, through an SVD that ignores directions below 1e-10 of the largest: the slow
# columns of the sinusoidal table are nearly constant over 32 positions, so the table is
# nearly singular, and a solver that keeps those directions fits rounding noise.)
tables = {"learned": learned.pe.detach().double(),
          "sinusoidal": sinusoidal_encoding(32, d_model, dtype=torch.float64)}
for name, table in tables.items():
    # (16, 16): the best M with row p @ M ≈ row p+1
    best = torch.linalg.lstsq(table[:-1], table[1:], rcond=1e-10, driver="gelsd").solution
    miss = float((table[:-1] @ best - table[1:]).norm() / table[1:].norm())
    print(f"{name:10s}: the best single map from each position to the next misses by {miss:.0%}")
    assert miss > 0.5 if name == "learned" else miss < 1e-6

# %% slideshow={"slide_type": "subslide"}
figures.similarity_heatmap(learned_sim, [str(p) for p in range(32)],
                           title="Untrained learned positions: no pattern", axis_title="position")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The two side by side
#
# | | sinusoidal (paper) | learned (BERT, GPT) |
# | --- | --- | --- |
# | parameters | none | max_len × d<sub>model</sub> |
# | before training | already structured: similarity falls, on the whole, with distance | random noise |
# | positions ≥ max_len | computed by the same formula | impossible: no row |
# | flexibility | fixed pattern | can learn whatever pattern helps the task |
#
# The paper tried both and found they gave nearly the same results; it kept the
# sinusoids because they might extend to longer sentences.
#
# **What models use today.** BERT and GPT-2 learned their positions. Most recent large
# language models (Llama, Mistral, Qwen, …) use **rotary embeddings (RoPE)**: instead of
# adding anything to the word vectors, they rotate each query and key by its position's
# angles, with the rotations M<sub>k</sub> above (k = the position), so that q · k depends on the
# two positions only through how far apart they are.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: the encoding
#
# Change the number of positions and d<sub>model</sub>, switch between the sinusoidal and an
# untrained learned table, and pick which wave pair to plot.
#
# - Raise d<sub>model</sub>: more slow waves appear on the right of the heatmap.
# - Slide **wave pair i** up: the wave gets slower.
# - Switch to **learned (untrained)**: the stripes and the diagonal band disappear.

# %% slideshow={"slide_type": "subslide"}
widgets.PositionalExplorer(length=24, d_model=32)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
#
# - Self-attention is **permutation-equivariant**: shuffle the tokens and the outputs
#   shuffle the same way. Without help, "Squatch eats pizza" = "Pizza eats Squatch".
# - The fix: **add** a position vector to each word vector (a linear map of a
#   concatenation would be a sum anyway; adding keeps the width).
# - **Sinusoidal**: PE(pos, 2i) = sin(pos / 10000<sup>2i/d<sub>model</sub></sup>), PE(pos, 2i+1) = cos(…):
#   waves from fast to slow, a unique pattern per position, no parameters, any length.
# - **Learned**: an `nn.Embedding` over positions; flexible, but noise until trained and
#   limited to max_len.
# - Position vectors of nearby positions are similar, and the similarity depends only on
#   the distance, because moving k positions is one fixed rotation M<sub>k</sub> for every position.
#   Today's large models mostly rotate queries and keys instead (RoPE).
#
# Next: **03 Queries, keys and values**, the inside of the attention layer we used here
# as a black box.
