# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 03 · Queries, keys and values
#
# Attention lets every word look at every other word and collect what it needs. But
# *how* does a word decide whom to listen to, and *what* does it get back?
#
# This chapter opens the attention layer that chapter 02 used as a black box. Inside,
# each token is turned into three vectors: a **query**, a **key** and a **value**.

# %% slideshow={"slide_type": "skip"}
import math

import torch
import torch.nn.functional as F
from transformer_course import checks, figures, widgets
from transformer_course.attention import SingleHeadAttention, attention_scores
from transformer_course.embeddings import TokenEmbedding
from transformer_course.examples import cat_example, video_search
from transformer_course.tokenizer import course_vocab, tokenize

_ = torch.manual_seed(0)   # the same "random" numbers on every run
torch.set_printoptions(precision=2, sci_mode=False)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## An analogy: searching for a video
#
# You type **"movie reviews"** into a video site. That text is your **query**.
#
# The site compares it with the **title** of every video: the titles are the **keys**.
# A title that matches well gets a high score.
#
# What you finally watch is not the title but the **video** itself: the **value**.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Let's fake it with three made-up features per text: *is about movies*, *is an
# opinion*, *is about food*. A match is a dot product: large when query and key point
# the same way.

# %% slideshow={"slide_type": "fragment"}
features = ["movies", "opinion", "food"]
query = torch.tensor([1.0, 1.0, 0.0])                      # "movie reviews"
titles = {                                                  # the keys
    "Top 10 films of the year, reviewed": torch.tensor([1.0, 1.0, 0.0]),
    "Dune, official trailer":             torch.tensor([1.0, 0.0, 0.0]),
    "Is this pizza worth 30 euros?":      torch.tensor([0.0, 1.0, 1.0]),
    "Pasta in ten minutes":               torch.tensor([0.0, 0.0, 1.0]),
}
for title, key in titles.items():
    print(f"score {float(query @ key):.0f}  {title}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# A search engine would hand you the best match. Attention is softer: it hands back a
# **mix of all the values**, weighted by how well each key matched: the film reviews
# count most, the trailer and the pizza review a little, the pasta video least.
#
# The values are what you actually get: the videos. Describe each by its minutes of
# three kinds of content. (Chapter 04 turns the scores into weights and computes the
# mix; the lib keeps these numbers as `video_search()`, from `transformer_course.examples`,
# so it can start from them.)

# %% slideshow={"slide_type": "fragment"}
contents = ["film scenes", "someone talking", "cooking"]
videos = torch.tensor([[6.0, 8.0, 0.0],                     # the values, one row per video:
                       [3.0, 0.0, 0.0],                     # minutes of each kind of content
                       [0.0, 5.0, 2.0],
                       [0.0, 2.0, 8.0]])
for title, video in zip(titles, videos):
    print(f"{title:36s} holds {dict(zip(contents, video.tolist()))}")

search = video_search()                                     # the same numbers, kept in the lib
assert torch.equal(search.query, query) and torch.equal(search.keys, torch.stack(list(titles.values())))
assert torch.equal(search.values, videos) and list(search.titles) == list(titles)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Three questions every token asks
#
# | vector | the question it answers |
# | --- | --- |
# | **query** q | *What am I looking for?* |
# | **key** k | *Where can it be found? What do I have to offer?* |
# | **value** v | *What is the content I hand over if you pick me?* |
#
# Every token plays all three roles at once: it asks with its query, it is found
# through its key, and it contributes its value.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three learned views of the same input
#
# Start from the token vectors of a sentence, stacked as rows of a matrix X. A sentence
# of 4 words with 3-dimensional vectors is a 4 × 3 matrix.
#
# Three weight matrices turn the same X into three different views:
#
# $$Q = X W_Q \qquad K = X W_K \qquad V = X W_V$$
#
# W<sub>Q</sub>, W<sub>K</sub> and W<sub>V</sub> are **learned**: training adjusts them so that useful queries
# meet useful keys.

# %% slideshow={"slide_type": "fragment"}
_ = torch.manual_seed(0)   # re-run this cell: the same W_Q, W_K, W_V, so the scores below still hold
vocab = course_vocab()
tokens = tokenize("tell me about pizza")
embed3 = TokenEmbedding(len(vocab), 3, scale=False)
X = embed3(torch.tensor(vocab.ids(tokens))).detach()      # (4, 3): 4 words, 3 numbers each

d_k = 2
W_Q, W_K, W_V = (torch.randn(3, d_k) for _ in range(3))   # (d_model, d_k), random for now
Q, K, V = X @ W_Q, X @ W_K, X @ W_V                        # each (4, 2): one row per word
print("X", tuple(X.shape), "→ Q", tuple(Q.shape), "K", tuple(K.shape), "V", tuple(V.shape))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The same thing, as the lib does it
#
# The lib's `SingleHeadAttention` holds the three projections as `nn.Linear` layers
# (`w_q`, `w_k`, `w_v`). PyTorch stores a linear layer's matrix transposed, shape
# (d<sub>k</sub>, d<sub>model</sub>), so `w_q(X)` is `X @ w_q.weight.T`.

# %% slideshow={"slide_type": "fragment"}
head = SingleHeadAttention(d_model=3, d_k=2)
with torch.no_grad():
    head.w_q.weight.copy_(W_Q.T)
    head.w_k.weight.copy_(W_K.T)
    head.w_v.weight.copy_(W_V.T)
    assert torch.allclose(head.w_q(X), Q) and torch.allclose(head.w_k(X), K)
    assert torch.allclose(head.w_v(X), V)
print("w_q(X), w_k(X), w_v(X) equal X @ W_Q, X @ W_K, X @ W_V")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Scores: one dot product per pair of tokens
#
# How much should token i listen to token j? Compare i's **query** with j's **key**:
#
# $$\text{score}_{ij} = q_i \cdot k_j$$
#
# Doing it for every pair at once is one matrix product: **Q Kᵀ**, shape (tokens,
# tokens). Row i holds the scores of query i against every key.

# %% slideshow={"slide_type": "fragment"}
n = len(tokens)
by_hand = torch.zeros(n, n)
for i in range(n):            # each query …
    for j in range(n):        # … against each key
        by_hand[i, j] = Q[i] @ K[j]

scores = Q @ K.T              # (4, 2) @ (2, 4) → (4, 4)
assert torch.allclose(scores, by_hand, atol=1e-6)
assert torch.allclose(scores, attention_scores(Q, K, scale=1.0), atol=1e-6)   # the lib, unscaled
print(scores)

# %% slideshow={"slide_type": "subslide"}
# Not symmetric: "me" asking about "pizza" (scores[1, 3]) differs from the reverse (scores[3, 1]).
assert not torch.isclose(scores[1, 3], scores[3, 1], atol=0.1)
assert (scores > 0).sum() == 1 and scores[3, 3] > 0 and scores.min() < -30   # as the text says
figures.scores_heatmap(scores, tokens, title="Scores Q·Kᵀ for 'tell me about pizza'")

# %% [markdown] slideshow={"slide_type": "fragment"}
# A cell's colour shows its score: red for negative, blue for positive, and the more a cell
# stands out from the background, the further its score is from 0. Only one score here is
# positive, "pizza" against itself (0.93): beside −36.93 it is too small to show any blue.
# The weights are random, so the pattern means nothing yet: it only shows *where* the
# numbers come from. The matrix is not even symmetric: "me" asking about "pizza" is not the
# same as "pizza" asking about "me", because queries and keys come from different matrices.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Relevance in context, not dictionary similarity
#
# In "I'm playing with a cat", the word "I'm" should pay attention to "cat": that is who
# I'm playing with. Yet "I'm" and "cat" mean nothing alike. A score must measure
# **relevance in this sentence**, not similarity of meaning.
#
# To see how Q and K make that possible, here is a hand-built example. Each word gets four
# readable features: *person*, *animal*, *action*, *small word*.

# %% slideshow={"slide_type": "fragment"}
cat_tokens = tokenize("I'm playing with a cat")
#                  person animal action small
X_cat = torch.tensor([[1.0, 0.0, 0.0, 0.0],     # i'm
                      [0.0, 0.0, 1.0, 0.0],     # playing
                      [0.0, 0.0, 0.0, 1.0],     # with
                      [0.0, 0.0, 0.0, 1.0],     # a
                      [0.0, 1.0, 0.0, 0.0]])    # cat
cosine = F.cosine_similarity(X_cat[0], X_cat[4], dim=0)
print(f"cosine similarity of 'i'm' and 'cat': {cosine:.1f}  (nothing in common)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now choose the projections by hand. Query dimension 0 means *"I want a companion"*,
# dimension 1 *"I want a doer"* (someone who acts); the keys answer in the same two dimensions:

# %% slideshow={"slide_type": "fragment"}
W_Q_cat = torch.zeros(4, 2)
W_Q_cat[0, 0] = 1.0          # person → "I want a companion"
W_Q_cat[2, 1] = 1.0          # action → "I want a doer"
W_K_cat = torch.zeros(4, 2)
W_K_cat[1, 0] = 1.0          # animal → "I can be a companion"
W_K_cat[0, 1] = 1.0          # person → "I can be a doer"

scores_cat = (X_cat @ W_Q_cat) @ (X_cat @ W_K_cat).T      # (5, 5)
assert cat_tokens[int(scores_cat[0].argmax())] == "cat"    # i'm → cat
assert cat_tokens[int(scores_cat[1].argmax())] == "i'm"    # playing → i'm
assert scores_cat[4, 0] == 0                                # but cat does not look for i'm
figures.scores_heatmap(scores_cat, cat_tokens, title="Hand-made scores: 'i'm' finds 'cat'")

# %% [markdown] slideshow={"slide_type": "fragment"}
# "I'm" scores highest against "cat" although their vectors share nothing: the query of
# one meets the key of the other. In a real model nobody writes these matrices: training
# finds them (chapter 08).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### And the values?
#
# W<sub>V</sub> decides what a word hands over when another word picks it. Take the simplest
# choice: every word hands over its own four features, so W<sub>V</sub> is the identity matrix and
# an output can be read feature by feature. Chapter 04 finishes the computation (softmax,
# then the weighted sum of these values) and shows what "i'm" leaves the layer with. The
# lib keeps this example as `cat_example()`, from `transformer_course.examples`, so chapter 04
# starts from the same numbers.

# %% slideshow={"slide_type": "fragment"}
W_V_cat = torch.eye(4)                                      # (4, 4): hand over your own features
values_cat = X_cat @ W_V_cat                                # (5, 4)

example = cat_example()
assert list(example.tokens) == cat_tokens
pairs = ((X_cat, example.x), (W_Q_cat, example.w_q), (W_K_cat, example.w_k), (W_V_cat, example.w_v))
assert all(torch.equal(mine, kept) for mine, kept in pairs)
print("chapter 04 continues from these numbers: X, W_Q, W_K, W_V of 'I'm playing with a cat'")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Many sentences, many heads: `einsum`
#
# Real code handles a batch of sentences, and several attention heads (chapter 05) at once.
# A popular from-scratch implementation writes the scores as
#
# ```python
# energy = torch.einsum("nqhd,nkhd->nhqk", [queries, keys])
# ```
#
# Read it letter by letter:
#
# | letter | meaning |
# | --- | --- |
# | **n** | which sentence in the batch |
# | **q** | position of the query token |
# | **k** | position of the key token |
# | **h** | which head |
# | **d** | feature inside a head: d<sub>k</sub> numbers (code: `d_head`; shapes table below: `head_dim`) |
#
# `d` appears in both inputs but not in the output, so einsum multiplies along `d` and
# **sums it away**: that is the dot product q · k, computed for every n, h, q and k.

# %% slideshow={"slide_type": "subslide"}
n_batch, heads, d_head = 2, 3, 4
q_len, k_len = 5, 6                                      # 5 queries, 6 keys: the shapes tell q from k
queries = torch.randn(n_batch, q_len, heads, d_head)     # (n, q, h, d)
keys = torch.randn(n_batch, k_len, heads, d_head)        # (n, k, h, d)

energy = torch.einsum("nqhd,nkhd->nhqk", queries, keys)  # (n, h, q, k)

# The same with matmul: move the heads next to the batch, then Q Kᵀ per (n, h).
q_heads = queries.transpose(1, 2)                        # (n, h, q, d)
k_heads = keys.transpose(1, 2)                           # (n, h, k, d)
matmul = q_heads @ k_heads.transpose(-2, -1)             # (n, h, q, k)

assert torch.allclose(energy, matmul, atol=1e-5)
assert torch.allclose(energy, attention_scores(q_heads, k_heads, scale=1.0), atol=1e-5)
assert energy.shape == (n_batch, heads, q_len, k_len)
print("einsum:", tuple(energy.shape), "= matmul:", tuple(matmul.shape))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: attention scores
#
# Write `my_attention_scores(q, k)`: for queries q of shape (..., Lq, d<sub>k</sub>) and keys
# k of shape (..., Lk, d<sub>k</sub>), return the raw scores of shape (..., Lq, Lk), entry
# (i, j) being q<sub>i</sub> · k<sub>j</sub>. The `...` means it should also work for a batch
# of sentences (B, L, d<sub>k</sub>).
#
# No scaling yet: that is chapter 04. Use torch operations on q and k, not
# `torch.no_grad()`, `.detach()` or `.tolist()`: a model trains through functions like
# this one, so its gradients must flow back through it (the checker says when they cannot).

# %% slideshow={"slide_type": "fragment"}
def my_attention_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """q (..., Lq, d_k), k (..., Lk, d_k) → raw scores (..., Lq, Lk)."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_attention_scores(my_attention_scores)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def attention_scores_solution(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """q (..., Lq, d_k), k (..., Lk, d_k) → raw scores (..., Lq, Lk)."""
    # transpose(-2, -1) swaps only the last two dims, so batches stay where they are;
    # k.T would reverse ALL dims of a 3-D tensor.
    return q @ k.transpose(-2, -1)


assert checks.check_attention_scores(attention_scores_solution).passed
assert torch.allclose(attention_scores_solution(q_heads, k_heads), energy, atol=1e-5)   # the einsum above

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Shapes along the way
#
# Keep this table at hand: most bugs in attention code are shape bugs.
#
# The cell below borrows two steps that chapter 04 teaches: `torch.softmax` turns each row
# of scores into weights that are positive and sum to 1, and the scores are first divided
# by √d<sub>k</sub> (`d_head` in the code). Take both on trust for now: here we only track the shapes.
#
# | tensor | shape | einsum letters |
# | --- | --- | --- |
# | queries | (N, query_len, heads, head_dim) | nqhd |
# | keys | (N, key_len, heads, head_dim) | nkhd |
# | values | (N, value_len, heads, head_dim), value_len = key_len | nkhd |
# | scores (energy) | (N, heads, query_len, key_len) | nhqk |
# | weights | (N, heads, query_len, key_len), each row sums to 1 | nhqk |
# | output | (N, query_len, heads, head_dim) | nqhd |

# %% slideshow={"slide_type": "subslide"}
values = torch.randn(n_batch, k_len, heads, d_head)                         # (n, k, h, d)
weights = torch.softmax(energy / math.sqrt(d_head), dim=-1)                 # (n, h, q, k)
output = torch.einsum("nhqk,nkhd->nqhd", weights, values)                   # (n, q, h, d)

shapes = {"queries": queries, "keys": keys, "values": values, "scores": energy,
          "weights": weights, "output": output}
for name, t in shapes.items():
    print(f"{name:8s} {tuple(t.shape)}")
assert energy.shape == weights.shape == (n_batch, heads, q_len, k_len)
assert output.shape == queries.shape
assert torch.allclose(weights.sum(-1), torch.ones(n_batch, heads, q_len))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: queries, keys and values of your sentence
#
# Type a sentence. You see its Q, K and V (one row per token), the score matrix Q Kᵀ with
# the chosen query's row outlined, and that row as bars.
#
# - Pick another **query token**: a different row lights up.
# - Type a sentence with a repeated word ("the dog saw the cat"): both copies get the same
#   rows in Q, K and V, since nothing tells them apart yet (chapter 02's position vectors
#   would).
# - The projections here are random and untrained, so the scores follow no meaning.

# %% slideshow={"slide_type": "subslide"}
d_model = 8
explorer_embed = TokenEmbedding(len(vocab), d_model, scale=False)
explorer_head = SingleHeadAttention(d_model, d_k=4)
widgets.QKVExplorer(vocab, explorer_embed, explorer_head, text="I'm playing with a cat", query=0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
#
# - Each token is projected three ways: **Q = XW<sub>Q</sub>** (what am I looking for?),
#   **K = XW<sub>K</sub>** (what do I offer?), **V = XW<sub>V</sub>** (what do I hand over?).
# - Like a video search: the query is matched against the titles (keys), and you get the
#   videos (values).
# - **Q Kᵀ** holds one dot product per pair of tokens: row i is query i against every key.
#   It measures relevance in context, not similarity of meaning, and it is not symmetric.
# - `einsum("nqhd,nkhd->nhqk")` is the same product for a batch and many heads: `d` is
#   summed away.
#
# Next: **04 Softmax and scaling**: how raw scores become weights that sum to 1, and why
# they are divided by √d<sub>k</sub> first.
