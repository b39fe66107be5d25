# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 05 · Multi-head attention: several views at once
#
# One attention head gives each token **one** weighted mix of the others. But a word
# often needs several relations at the same time: "it" in "the pizza came out of the
# oven and it tasted good" needs to know what it refers to, which verb belongs to it,
# and what stands next to it.
#
# Multi-head attention runs several heads **side by side**. Each head has its own
# projections and works in a smaller space, so each is free to specialise. Their
# results are glued together and mixed by one last matrix.

# %% slideshow={"slide_type": "skip"}
import math

import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks, figures, widgets
from transformer_course.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_course.cost import growth_exponent, measure_attention_cost
from transformer_course.embeddings import TokenEmbedding
from transformer_course.neighbours import (
    JOBS,
    NeighbourReader,
    head_jobs,
    neighbour_accuracy,
    neighbour_loss,
    neighbour_rows,
)
from transformer_course.positional import sinusoidal_encoding
from transformer_course.tokenizer import course_vocab, tokenize
from transformer_course.training import train

_ = torch.manual_seed(0)   # the same "random" numbers on every run

# %% [markdown] slideshow={"slide_type": "slide"}
# ## From one head to h heads
#
# Recall one head: Attention(Q, K, V) = softmax(QKᵀ / √d<sub>k</sub>) V, with Q = XW<sub>Q</sub>, K =
# XW<sub>K</sub>, V = XW<sub>V</sub>.
#
# With h heads, head i gets its **own** three matrices W<sub>Q</sub><sup>(i)</sup>,
# W<sub>K</sub><sup>(i)</sup>, W<sub>V</sub><sup>(i)</sup>, each projecting d<sub>model</sub> numbers down to
# d<sub>head</sub> = d<sub>model</sub> / h (each head's d<sub>k</sub> is d<sub>head</sub>). Then:
#
# $$\text{head}_i = \text{Attention}(XW_Q^{(i)}, XW_K^{(i)}, XW_V^{(i)}) \qquad
#   \text{MultiHead}(X) = \text{Concat}(\text{head}_0, …, \text{head}_{h-1})\,W_O$$
#
# (Heads are numbered 0 … h−1, as in the code.)
#
# A simplified picture: with 4 heads, one head could follow grammar, one the tone, one
# the choice of words, one the punctuation. Nobody tells a head what to follow: training
# decides.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Every head's projection in one matrix
#
# In practice the h small matrices are stored **side by side** in one d<sub>model</sub> × d<sub>model</sub>
# matrix: columns 0 … d<sub>head</sub>−1 belong to head 0, the next d<sub>head</sub> columns to head 1, and
# so on. One matrix product computes every head's queries at once.
#
# Our example: "I love deep learning" (4 tokens), d<sub>model</sub> = 12, h = 2 heads, so
# d<sub>head</sub> = 6.

# %% slideshow={"slide_type": "fragment"}
vocab = course_vocab()
tokens = tokenize("I love deep learning")
B, L, d_model, h = 1, len(tokens), 12, 2   # d_head 6, not L: the shapes tell them apart
d_head = d_model // h

embed = TokenEmbedding(len(vocab), d_model, scale=False)
with torch.no_grad():
    x = embed(torch.tensor([vocab.ids(tokens)])) + sinusoidal_encoding(L, d_model)   # (B, L, d_model)
w_q, w_k, w_v, w_o = (torch.randn(d_model, d_model) / math.sqrt(d_model) for _ in range(4))

q = x @ w_q                                   # (1, 4, 12): every head's queries, side by side
head_1_alone = x @ w_q[:, d_head:2 * d_head]  # head 1 with its own small (12 × 6) matrix
assert torch.allclose(q[..., d_head:2 * d_head], head_1_alone, atol=1e-6)
print("x:", tuple(x.shape), " q:", tuple(q.shape), " head 1's queries:", tuple(head_1_alone.shape))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Split, attend, concatenate, project
#
# Follow the shapes: (batch B, length L, heads h, head size d<sub>head</sub>).

# %% slideshow={"slide_type": "fragment"}
def split_heads(t):
    """(B, L, d_model) → (B, h, L, d_head): cut the features into h slices, heads in front."""
    return t.view(B, L, h, d_head).transpose(1, 2)


def merge_heads(t):
    """(B, h, L, d_head) → (B, L, d_model): put the heads' slices back side by side."""
    return t.transpose(1, 2).reshape(B, L, d_model)


# %% slideshow={"slide_type": "subslide"}
steps = {}
steps["x"] = x
steps["q = x W_Q"] = q = x @ w_q
steps["split q"] = q_heads = split_heads(q)
k_heads, v_heads = split_heads(x @ w_k), split_heads(x @ w_v)
steps["scores q kᵀ / √d_head"] = scores = q_heads @ k_heads.transpose(-2, -1) / math.sqrt(d_head)
steps["weights = softmax"] = weights = torch.softmax(scores, dim=-1)
steps["heads = weights v"] = heads = weights @ v_heads
steps["concat (merge)"] = concat = merge_heads(heads)
steps["out = concat W_O"] = out = concat @ w_o
for name, t in steps.items():
    print(f"{name:24} {str(tuple(t.shape)):15}")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Each head computes its own (L × L) weights: here 2 heads × 4 queries × 4 keys. The
# scores are divided by √d<sub>head</sub>, the size of the vectors each head compares. The output
# has the shape of the input, so attention layers can be stacked.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why the transpose matters
#
# `view(B, L, h, d_head)` keeps each token's row intact and only cuts it into slices.
# Skipping the transpose and writing `view(B, h, L, d_head)` instead cuts the (L × d<sub>model</sub>)
# block in reading order: head 0 then gets all of tokens 0 and 1 and nothing of tokens 2
# and 3, and each of its "rows" is half a token. Label each number with its token to see it:

# %% slideshow={"slide_type": "fragment"}
which_token = torch.arange(L).repeat_interleave(d_model).view(B, L, d_model)   # token index of each number
right = split_heads(which_token)[0, 0]                # head 0: (L, d_head)
wrong = which_token.view(B, h, L, d_head)[0, 0]
print("head 0, right split — token of each number:\n", right.tolist())
print("head 0, view without transpose:\n", wrong.tolist())
assert (right == torch.arange(L)[:, None]).all()       # row t holds only token t
assert not (wrong == torch.arange(L)[:, None]).all()   # rows mix tokens

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: multi-head attention by hand
#
# Write `my_multi_head_attention(x, w_q, w_k, w_v, w_o, num_heads)`:
#
# - `x` is (B, L, d<sub>model</sub>); the four matrices are (d<sub>model</sub> × d<sub>model</sub>), used as
#   `x @ w`; columns i·d<sub>head</sub> … (i+1)·d<sub>head</sub>−1 of `w_q`, `w_k`, `w_v`
#   (`w_q[:, i*d_head:(i+1)*d_head]`) belong to head i;
# - split into heads, attend in each head (scale by √d<sub>head</sub>), merge, project with `w_o`;
# - return the (B, L, d<sub>model</sub>) output.
#
# The checker recognises the usual slips: a reshape that mixes tokens across heads, heads
# that share one projection, a forgotten W<sub>O</sub>.

# %% slideshow={"slide_type": "fragment"}
def my_multi_head_attention(x, w_q, w_k, w_v, w_o, num_heads):
    """x (B, L, d_model), w_* (d_model, d_model) → (B, L, d_model)."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_multi_head_attention(my_multi_head_attention)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def multi_head_attention_solution(x, w_q, w_k, w_v, w_o, num_heads):
    """x (B, L, d_model), w_* (d_model, d_model) → (B, L, d_model)."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads

    def split(t):                                              # (B, L, D) → (B, h, L, d_head)
        return t.view(b, length, num_heads, d_head).transpose(1, 2)

    q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    out, _ = scaled_dot_product_attention(q, k, v)             # (B, h, L, d_head)
    merged = out.transpose(1, 2).reshape(b, length, d_model)   # (B, L, D)
    return merged @ w_o


assert checks.check_multi_head_attention(multi_head_attention_solution).passed
assert torch.allclose(multi_head_attention_solution(x, w_q, w_k, w_v, w_o, h), out, atol=1e-5)   # as above

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Same number of parameters as one full-width head
#
# h heads of size d<sub>model</sub>/h use h × (d<sub>model</sub> × d<sub>model</sub>/h) =
# d<sub>model</sub><sup>2</sup> numbers for W<sub>Q</sub>, exactly what one head of full width
# d<sub>model</sub> uses. The same holds for W<sub>K</sub> and W<sub>V</sub>, and W<sub>O</sub> is
# d<sub>model</sub> × d<sub>model</sub> either way. More heads cost **no** extra parameters: they split the
# same budget differently. (With biases, the default, each of the four projections adds
# d<sub>model</sub> more numbers, whatever h is.)

# %% slideshow={"slide_type": "fragment"}
def n_params(module):
    return sum(p.numel() for p in module.parameters())


d = 64
counts = {heads: n_params(MultiHeadAttention(d, heads, bias=False)) for heads in (1, 2, 4, 8)}
print(f"parameters by number of heads: {counts} = 4 × {d}² = {4 * d * d}")
assert set(counts.values()) == {4 * d * d}
biased = {heads: n_params(MultiHeadAttention(d, heads)) for heads in (1, 2, 4, 8)}   # the default
print(f"with biases (the default): {biased} = 4 × {d}² + 4 × {d} = {4 * d * d + 4 * d}")
assert set(biased.values()) == {4 * d * d + 4 * d}

# One full-width head (W_Q, W_K, W_V of 64 × 64) plus W_O:
one_head = nn.ModuleList([nn.Linear(d, d, bias=False) for _ in range(4)])
assert n_params(one_head) == counts[8]

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The lib's `MultiHeadAttention` is PyTorch's, with copied weights
#
# The course's `MultiHeadAttention` (in `lib/transformer_course/attention.py`) does the
# steps above with `nn.Linear` layers. We check it three ways on the same input:
#
# 1. PyTorch's own `nn.MultiheadAttention`, whose weights we copy into ours;
# 2. a hand-written version that calls the fused `F.scaled_dot_product_attention` per head;
# 3. the lib's fused path (`need_weights=False`).

# %% slideshow={"slide_type": "subslide"}
# New names (…_lib), so the cells above still run again with their own x, h and d_model.
d_lib, h_lib = 32, 8                                          # d_model and heads of this check
torch_mha = nn.MultiheadAttention(d_lib, h_lib, batch_first=True).eval()
mha = MultiHeadAttention(d_lib, h_lib).load_from_torch(torch_mha).eval()

x_lib = torch.randn(2, 6, d_lib)                              # (B, L, d_model)
with torch.no_grad():
    out_lib, weights_lib = mha(x_lib)                         # (2, 6, 32), (2, 8, 6, 6)
    ref, ref_weights = torch_mha(x_lib, x_lib, x_lib, average_attn_weights=False)

    # 2. By hand: nn.MultiheadAttention keeps W_Q, W_K, W_V stacked in in_proj_weight.
    w_qkv, b_qkv = torch_mha.in_proj_weight.chunk(3), torch_mha.in_proj_bias.chunk(3)
    q_lib, k_lib, v_lib = (F.linear(x_lib, w, b).view(2, 6, h_lib, d_lib // h_lib).transpose(1, 2)
                           for w, b in zip(w_qkv, b_qkv))     # each (B, h, L, d_head)
    fused = F.scaled_dot_product_attention(q_lib, k_lib, v_lib)   # (B, h, L, d_head)
    by_hand = torch_mha.out_proj(fused.transpose(1, 2).reshape(2, 6, d_lib))

    fast, no_weights = mha(x_lib, need_weights=False)

torch.testing.assert_close(out_lib, ref, atol=1e-5, rtol=0)
torch.testing.assert_close(weights_lib, ref_weights, atol=1e-5, rtol=0)
torch.testing.assert_close(by_hand, ref, atol=1e-5, rtol=0)
torch.testing.assert_close(fast, ref, atol=1e-5, rtol=0)
assert no_weights is None
print("lib = nn.MultiheadAttention = hand-written with F.scaled_dot_product_attention = fused path")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Two details worth knowing: `nn.MultiheadAttention` **averages** the weights over heads
# unless you pass `average_attn_weights=False`, and it stores W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub>
# stacked in one `in_proj_weight` (3·d<sub>model</sub> × d<sub>model</sub>), in `nn.Linear`'s (out × in)
# layout.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A from-scratch implementation you may meet
#
# Many people first see attention in a short tutorial, "Transformer from scratch in
# PyTorch" (Aladdin Persson's code), which writes it with `torch.einsum`. Its
# `SelfAttention(embed_size, heads)` takes `(values, keys, query, mask)` and looks much
# like ours, with two differences that are easy to read past:
#
# - **(a) one small projection, shared.** It first cuts every token vector into `heads`
#   slices of `head_dim` numbers, then passes each slice through **the same**
#   `nn.Linear(head_dim, head_dim)` (one for values, one for keys, one for queries). Ours
#   gives every head its own projection of the *whole* vector.
# - **(b) the scale.** It divides the energies (the scores) by √embed_size, where the
#   paper divides by √d<sub>k</sub> = √head_dim.
#
# The course rebuilds that design in `transformer_course.from_scratch`, with the
# tutorial's names, so you can hold the two side by side. `AttentionDesign` flips each
# difference on its own: `SOURCE` is the tutorial, `PAPER` the paper.

# %% slideshow={"slide_type": "subslide"}
from transformer_course.from_scratch import PAPER, SOURCE, AttentionDesign, SelfAttention


def projection_weights(attention):
    """How many numbers W_Q, W_K and W_V hold together."""
    return sum(p.numel() for lin in (attention.queries, attention.keys, attention.values)
               for p in lin.parameters())


for size, n_heads in ((32, 8), (512, 8)):                   # this chapter's layer; the tutorial's default
    shared = projection_weights(SelfAttention(size, n_heads, design=SOURCE))
    full = projection_weights(SelfAttention(size, n_heads, design=PAPER))
    size_head = size // n_heads
    assert shared == 3 * size_head**2 and full == 3 * size**2
    print(f"embed_size {size}, {n_heads} heads: shared 3·{size_head}² = {shared:,} weights, "
          f"paper 3·{size}² = {full:,} ({full // shared}× as many)")

# %% [markdown] slideshow={"slide_type": "fragment"}
# heads² = 64 times fewer numbers in W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub> together (W<sub>O</sub>,
# `fc_out`, is the same in both).

# %% [markdown] slideshow={"slide_type": "subslide"}
# Fewer numbers is not the only change: with the shared projection, head i only ever reads
# **its own slice** of each token. Change every number of a token except head 0's four, and
# head 0 does not notice:

# %% slideshow={"slide_type": "fragment"}
sample = torch.randn(1, 6, 32)                              # (N, L, embed_size)
changed = sample.clone()
changed[..., 4:] += torch.randn(1, 6, 28)                   # everything but features 0-3 changes
with torch.no_grad():
    for design in (SOURCE, PAPER):
        attention = SelfAttention(32, 8, design=design)
        head_0 = [attention(t, t, t)[1][0, 0] for t in (sample, changed)]   # (L, L) weights of head 0
        change = (head_0[0] - head_0[1]).abs().max().item()
        print(f"{'tutorial' if design is SOURCE else 'paper':8}: head 0's weights moved by {change:.3f}")
        assert (change < 1e-6) == (design is SOURCE)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### √embed_size makes every row flatter
#
# √embed_size = √heads · √head_dim, so with 8 heads every score is divided by an
# extra factor √heads = √8 ≈ 2.8: chapter 04's temperature, turned up. Same
# weights, same input, only the divisor changes:

# %% slideshow={"slide_type": "fragment"}
from transformer_course.softmax import entropy

reference = nn.MultiheadAttention(32, 8, batch_first=True).eval()   # PyTorch's, default init
sample = torch.randn(2, 11, 32)                                     # (N, L, embed_size)
flatter = AttentionDesign(shared_projections=False, scale="embed_size")  # (a) fixed, (b) not
with torch.no_grad():
    _, w_flat = SelfAttention(32, 8, design=flatter).load_from_torch(reference)(sample, sample, sample)
    _, w_paper = SelfAttention(32, 8, design=PAPER).load_from_torch(reference)(sample, sample, sample)
uniform = math.log(11)
for name, w in (("÷ √embed_size = √32", w_flat), ("÷ √head_dim = √4", w_paper)):
    print(f"{name:20}: row entropy {entropy(w).mean():.2f} nats (uniform: {uniform:.2f}), "
          f"largest weight per row {w.amax(-1).mean():.2f} (uniform: {1 / 11:.2f})")
assert entropy(w_flat).mean() > entropy(w_paper).mean()
assert w_flat.amax(-1).mean() < w_paper.amax(-1).mean()
assert uniform - entropy(w_flat).mean() < 0.1                      # nearly uniform

# %% [markdown] slideshow={"slide_type": "subslide"}
# Both layers are fresh, so both are still fairly flat. With √embed_size the rows are
# nearly uniform (entropy next to log 11) and the largest weight per row is smaller:
# every query starts out averaging nearly all keys. It is a temperature, though, not a
# loss of ability: W<sub>Q</sub> multiplied by √heads gives exactly the paper's scores, and
# training can learn that factor. Whether it slows training down, chapter 08 measures
# (with its 2 heads: hardly).
#
# Fix both differences and the tutorial's attention is PyTorch's, to within 1e-5; fix
# only the projections and it is not:

# %% slideshow={"slide_type": "fragment"}
sample = torch.randn(2, 6, 32)
with torch.no_grad():
    expected, _ = reference(sample, sample, sample)
    paper_out, _ = SelfAttention(32, 8, design=PAPER).load_from_torch(reference)(sample, sample, sample)
    flat_out, _ = SelfAttention(32, 8, design=flatter).load_from_torch(reference)(sample, sample, sample)
    warmed = SelfAttention(32, 8, design=flatter).load_from_torch(reference)
    warmed.queries.weight.mul_(math.sqrt(8))                # the √heads the weights could learn
    warmed_out, _ = warmed(sample, sample, sample)
print(f"(a) fixed only:    largest difference from nn.MultiheadAttention "
      f"{(flat_out - expected).abs().max():.3f}")
print(f"(a) fixed, W_Q×√8: largest difference {(warmed_out - expected).abs().max():.1e}")
print(f"(a) and (b) fixed: largest difference {(paper_out - expected).abs().max():.1e}")
torch.testing.assert_close(paper_out, expected, atol=1e-5, rtol=0)
torch.testing.assert_close(warmed_out, expected, atol=1e-5, rtol=0)
assert (flat_out - expected).abs().max() > 1e-3

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Heads side by side
#
# Eight heads of an untrained layer (its W<sub>Q</sub> multiplied by 3, so the random patterns
# are sharp enough to see) on the pizza sentence. Each heatmap is one head's
# weights: row = query (the word looking), column = key (the word looked at), each row
# sums to 1.

# %% slideshow={"slide_type": "subslide"}
sentence = "the pizza came out of the oven and it tasted good"
grid_tokens = tokenize(sentence)
grid_embed = TokenEmbedding(len(vocab), d_lib, scale=False)
grid_mha = MultiHeadAttention(d_lib, h_lib)                   # 32 numbers a token, 8 heads
with torch.no_grad():
    grid_mha.q_proj.weight.mul_(3)    # sharper random attention: its patterns are easier to see
    grid_ids = torch.tensor([vocab.ids(grid_tokens)])
    grid_x = grid_embed(grid_ids) + sinusoidal_encoding(len(grid_tokens), d_lib)   # (1, 11, 32)
    _, grid_weights = grid_mha(grid_x)                         # (1, 8, 11, 11)
figures.head_grid_figure(grid_weights[0], grid_tokens, title="8 untrained heads on the pizza sentence")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Explore: every head, and two heads compared
#
# Every head looks somewhere else, only because its random projections differ. The
# patterns mean nothing yet: training is what gives heads jobs. A few cells below, you
# train a layer and see it happen.
#
# - Type your own sentence: all heads update.
# - Pick which heads to show (Ctrl- or Shift-click for several).
# - Choose heads **A** and **B**: the difference map is red where A looks more, blue
#   where B does. The last map averages the heads shown, which is what
#   `nn.MultiheadAttention` returns by default: averaging hides how different they are.

# %% slideshow={"slide_type": "subslide"}
widgets.HeadGridExplorer(vocab, grid_embed, grid_mha, text=sentence)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Training gives heads jobs
#
# A task that needs several heads: for each symbol of a row such as `3 0 5 5 1 2 4 0`,
# name **the symbol before it**, **the symbol after it** and **the first symbol of the row**.
# (The first symbol has no "before" and the last has no "after": those answers are not
# scored.)
#
# One head cannot do it. It hands each position one weighted mix of values, and a mix of
# the symbol on the left and the symbol on the right cannot say which one was on which
# side. Three heads can: each may fetch one of the three.
#
# The model embeds each symbol and adds chapter 02's sinusoidal positions, then runs one
# `MultiHeadAttention` layer with 3 heads and nothing after it (no residual, no
# feed-forward), followed by three linear readouts, one per question
# (`transformer_course.neighbours`). Whatever the readouts know came through the heads.
# Training takes a few seconds. (`train` is the training loop of chapter 08: `steps`
# times, it draws a batch of rows, measures the **loss**, how wrong the answers are, and
# moves every weight a little to lower it, a step whose size `lr` sets; the **held-out**
# rows never take part, so the accuracy on them shows what the model learned, not what
# it memorised.)

# %% slideshow={"slide_type": "subslide"}
threads = torch.get_num_threads()
torch.set_num_threads(1)         # a model this small trains faster on one thread
train_rows = neighbour_rows(4000, seed=0)                 # (4000, 8) random symbols 0-5
held_out = neighbour_rows(500, seed=1)                    # (500, 8) rows to test on
torch.manual_seed(0)
reader = NeighbourReader(num_symbols=6, d_model=24, num_heads=3)
reader_history = train(reader, neighbour_loss, lambda idx: train_rows[idx], len(train_rows), steps=150,
                       batch_size=64, lr=3e-2, seed=0, description="three questions")
accuracy = neighbour_accuracy(reader, held_out)           # (3,): one per question
print(f"loss {reader_history.losses[0]:.2f} → {reader_history.last_loss:.4f}; held-out accuracy: "
      + ", ".join(f"{job} {a:.1%}" for job, a in zip(JOBS, accuracy.tolist())))
torch.set_num_threads(threads)   # back to the machine's setting for the rest of the chapter
assert accuracy.min() > 0.99

# %% slideshow={"slide_type": "subslide"}
with torch.no_grad():
    reader(held_out, need_weights=True)                   # keeps reader.weights: (500, 3, 8, 8)
row = [str(int(i)) for i in held_out[0]]
figures.head_grid_figure(reader.weights[0], row, columns=3,
                         title=f"The 3 trained heads on the held-out row {' '.join(row)}")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Three different pictures: one head's weight sits just **below** the diagonal (each
# position looks at the one before it), one's just **above** it (the one after), and one
# fills the **first column** (everyone looks at the first symbol). The previous- and
# next-symbol heads also keep a share **on** the diagonal, on the position itself.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Measured over all 500 held-out rows, at the positions where the three answers are
# three different places (positions 2 to 6: at position 1 the symbol before is the
# first one, and position 7 has none after it):

# %% slideshow={"slide_type": "fragment"}
jobs = head_jobs(reader.weights)                         # (3 heads, 3 questions): mean weight
measured = torch.arange(2, held_out.shape[1] - 1)        # the positions head_jobs measures
assert measured.tolist() == [2, 3, 4, 5, 6]               # rows of 8: positions 0 to 7
itself = reader.weights[:, :, measured, measured].mean(dim=(0, 2))   # (3,): weight on the diagonal
for h_i, shares in enumerate(jobs):
    job = JOBS[int(shares.argmax())]
    print(f"head {h_i}: {shares.max():.2f} of its weight on the {job} symbol "
          f"(other two: {', '.join(f'{v:.2f}' for v in shares.sort().values[:2].tolist())}; "
          f"itself: {itself[h_i]:.2f}; elsewhere: {1 - shares.sum() - itself[h_i]:.2f})")
assert sorted(jobs.argmax(dim=1).tolist()) == [0, 1, 2]   # each head took a different job
assert (jobs.max(dim=1).values > 0.5).all()                # and spends most of its weight on it
neighbour_heads = jobs[:, :2].max(dim=0).indices           # the heads of the previous and the next symbol
assert (itself[neighbour_heads] > 0.05).all()              # both keep a share on the diagonal

# %% slideshow={"slide_type": "subslide"}
figures.head_jobs_figure(torch.cat([jobs, itself[:, None]], dim=1),
                         [f"the {job} symbol" for job in JOBS] + ["the position itself"],
                         title=f"Mean weight on each target, held-out rows (positions {int(measured[0])} "
                               f"to {int(measured[-1])})")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Nobody told a head which job to take: all three started as random projections, and
# which head ends up with which job depends on the seed. What training does fix is that
# they **divide the work**, because the loss falls only when every question is answered.
# Chapter 08 sees it again in a small encoder: one of its two heads, unasked, moves the
# row of "it" onto the words that decide what "it" means, while the other looks
# elsewhere. In chapter 09 the heads of a GPT share the pronouns out among them.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The price: cost grows with the square of the length
#
# Every query meets every key, so each head builds an L × L matrix of scores. Double
# the sentence and the matrix gets **four** times bigger.
#
# Two ways to compute the same output:
# - **weights stored**: the path we wrote, which keeps the (L × L) weights (we need them
#   for pictures);
# - **fused kernel**: `F.scaled_dot_product_attention` goes through the keys block by
#   block and never keeps the whole matrix.
#
# Let's measure both on **your** machine. It takes a second or two; longer lengths are
# skipped if your machine is slow. The timings use one thread, so that other work on
# the machine blurs them less. Memory is the real peak where it can be measured
# (on Linux, the growth of the process's peak memory during one call; on a GPU, the
# peak of PyTorch's allocator). Elsewhere the lib can only count the tensors each path
# hands back, which cannot see the working space inside a kernel: the printout says
# which meter your machine used.

# %% slideshow={"slide_type": "subslide"}
cost = measure_attention_cost((32, 64, 128, 256, 512, 1024), num_heads=4, d_head=16, budget_s=1.5)
print(f"memory meter: {cost.memory_note}")
print(f"{'L':>6} {'stored ms':>10} {'fused ms':>9} {'stored MB':>10} {'fused MB':>9} {'output MB':>10}")
for row in zip(cost.lengths, cost.explicit_ms, cost.fused_ms, cost.explicit_bytes, cost.fused_bytes):
    n, e_ms, f_ms, e_b, f_b = row
    print(f"{n:>6} {e_ms:>10.3f} {f_ms:>9.3f} {e_b / 1e6:>10.3f} {f_b / 1e6:>9.3f} "
          f"{cost.output_bytes(n) / 1e6:>10.3f}")
if len(cost.lengths) > 1:                                 # the last step of the table, against L²
    (short, long), (e_0, e_1), (f_0, f_1) = (t[-2:] for t in (cost.lengths, cost.explicit_ms, cost.fused_ms))
    print(f"from L = {short} to {long}: time × {e_1 / e_0:.1f} stored, × {f_1 / f_0:.1f} fused "
          f"(as L² grows: × {(long / short) ** 2:.0f})")

longest = cost.lengths[-1]
assert abs(growth_exponent(cost.lengths, cost.explicit_bytes) - 2) < 0.15     # stored: ∝ L²
assert cost.explicit_bytes[-1] >= cost.weights_bytes(longest)                  # at least the weights
assert cost.fused_bytes[-1] <= cost.output_bytes(longest) + 2**21              # output + under 2 MiB

# %% slideshow={"slide_type": "subslide"}
figures.attention_cost_figure(cost, title=f"Attention cost on this machine ({cost.device})")

# %% [markdown] slideshow={"slide_type": "fragment"}
# On log-log axes a power of L is a straight line; the dotted line grows exactly as L².
# Stored memory follows it: its peak is the (B, h, L, L) weights matrix, checked above.
# The fused kernel's peak is its output (B, h, L, d<sub>head</sub>), which grows only like L, plus
# a small working space for one block of scores at a time (a few hundred kB with the
# process meter; the tensor meter cannot see it). Yet its **time** still climbs steeply
# for long inputs: it skips storing the matrix, not computing it. On a CPU, time can grow
# even faster than L² once the (L × L) scores no longer fit in the processor's caches:
# the line printed under the table puts your machine's last doubling next to L². (For short inputs,
# time is dominated by fixed overheads, hence the shallower start.) This quadratic cost is why
# long contexts are expensive, and why so much research looks for cheaper attention.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
#
# - **h heads** run in parallel, each with its own W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub> projecting to
#   d<sub>head</sub> = d<sub>model</sub> / h, so each can specialise.
# - **Split** (B, L, d<sub>model</sub>) → (B, h, L, d<sub>head</sub>) with view + transpose, **attend** per
#   head, **concatenate** back to (B, L, d<sub>model</sub>), **project** with W<sub>O</sub>.
# - Same parameter count as one full-width head: 4 · d<sub>model</sub><sup>2</sup> (plus
#   4 · d<sub>model</sub> biases), whatever h is.
# - The lib's `MultiHeadAttention` equals `nn.MultiheadAttention` and a hand-written
#   `F.scaled_dot_product_attention` version with copied weights.
# - Untrained heads look at random places; **trained** heads divide the work: on the
#   three-question task, one head looks at the previous symbol, one at the next, one at
#   the first (each with over half its weight, all three answers over 99 % right).
# - Attention costs grow with **L²**: storing the weights costs memory ∝ L² (measured as
#   the process's real peak where possible); the fused kernel keeps only its output and a
#   small working space, which avoids that memory, not the work.
#
# Next: **06 Masking**, where we decide which keys each query may see.
