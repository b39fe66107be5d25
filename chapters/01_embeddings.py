# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 01 · Embeddings: from words to vectors
#
# A neural network multiplies and adds numbers; it cannot read. Before a Transformer can
# do anything with "tell me about pizza", each piece of that text has to become a list
# of numbers: a **vector**.
#
# This chapter follows the text along the whole path:
#
# **text → tokens → ids → vectors**

# %% slideshow={"slide_type": "skip"}
import math

import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks, figures, widgets
from transformer_course.embeddings import TokenEmbedding, one_hot_embed, similarity_matrix
from transformer_course.tokenizer import course_vocab, tokenize

_ = torch.manual_seed(0)   # the same "random" numbers on every run

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Step 1: text → tokens
#
# A **token** is the unit the model reads. Large models split text into sub-word pieces
# ("play", "##ing"); this course uses whole words and punctuation marks, which keeps
# every figure readable. `tokenize` lower-cases the text and splits it:

# %% slideshow={"slide_type": "fragment"}
tokens = tokenize("Tell me about pizza!")
tokens

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Step 2: tokens → ids, with a vocabulary
#
# A **vocabulary** is a fixed list of tokens; a token's **id** is its position in that
# list. The course ships one small vocabulary, so nothing has to be downloaded.
# From here on we leave the "!" out and follow the four tokens of "tell me about pizza".

# %% slideshow={"slide_type": "fragment"}
vocab = course_vocab()
print(len(vocab), "tokens in the vocabulary")
print("the first ten:", vocab.itos[:10])

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Four special tokens
#
# The first four ids are not words. They are markers the model needs:
#
# | token | id | used for |
# | --- | --- | --- |
# | `<pad>` | 0 | filling up short sentences so a batch forms a rectangle |
# | `<unk>` | 1 | any word the vocabulary does not know |
# | `<bos>` | 2 | "beginning of sequence": the first input when generating |
# | `<eos>` | 3 | "end of sequence": the model writes it to say it is done |

# %% slideshow={"slide_type": "fragment"}
assert vocab.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)

ids = vocab.encode("tell me about pizza")
print("ids:             ", ids.tolist())
print("with bos and eos:", vocab.encode("tell me about pizza", add_bos=True, add_eos=True).tolist())
print("back to text:    ", vocab.decode(ids))

# %% [markdown] slideshow={"slide_type": "subslide"}
# An unknown word becomes `<unk>`, and sentences of different lengths are padded with
# `<pad>` into one rectangular batch:

# %% slideshow={"slide_type": "fragment"}
print(vocab.tokens(vocab.encode("tell me about quokkas")))
batch = vocab.encode_batch(["tell me about pizza", "hot pizza"])
print(batch)
assert batch[1, -1] == vocab.pad_id and vocab.encode("quokkas")[0] == vocab.unk_id

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Step 3: ids → vectors
#
# Now the key step. Keep a table with **one row per token of the vocabulary**: row `i`
# is the vector of token `i`. Turning ids into vectors is just reading rows.
#
# The length of these vectors is called **d<sub>model</sub>**, the model's width: every
# layer reads and writes vectors of that size (512 in the original paper). With a tiny
# d<sub>model</sub> = 3, the 4 tokens of "tell me about pizza" become a **4 × 3 matrix**: one
# row per token, one column per dimension.

# %% slideshow={"slide_type": "fragment"}
_ = torch.manual_seed(0)                   # the same table, even when this cell runs again
d_model = 3
table = torch.randn(len(vocab), d_model)   # (vocab_size, d_model)
vectors = table[ids]                       # (4, 3): row t is the vector of token t
print(vectors)
assert vectors.shape == (4, 3)

# %% slideshow={"slide_type": "subslide"}
figures.embedding_heatmap(vectors, vocab.tokens(ids), title="tell me about pizza: a 4 × 3 matrix")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A lookup is a matrix product
#
# Reading row `i` of a table gives the same result as multiplying a **one-hot** vector
# (all zeros except a 1 at position `i`) by the table. Four one-hot rows (4 × V, where V
# is the size of the vocabulary) times the table (V × 3) give the same 4 × 3 matrix:

# %% slideshow={"slide_type": "fragment"}
one_hot = F.one_hot(ids, num_classes=len(vocab)).float()   # (4, V)
print("one-hot shape:", tuple(one_hot.shape), "  ones per row:", one_hot.sum(dim=1).tolist())
by_product = one_hot @ table                                  # (4, V) @ (V, 3) → (4, 3)

assert torch.allclose(by_product, vectors)
assert torch.allclose(one_hot_embed(ids, table), vectors)   # the lib does the same

# %% [markdown] slideshow={"slide_type": "fragment"}
# So an embedding layer is a linear layer without bias, fed one-hot vectors. Indexing is
# simply the fast way to compute it: no need to multiply thousands of zeros.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The table is learned
#
# Nobody writes these numbers by hand. The table starts random and is a **parameter**
# of the model: training nudges each row, like any weight. PyTorch's `nn.Embedding` is
# exactly such a table; the lib's `TokenEmbedding` wraps one.

# %% slideshow={"slide_type": "fragment"}
embedding = TokenEmbedding(len(vocab), d_model, scale=False)
print("table shape:", tuple(embedding.weight.shape), " requires_grad:", embedding.weight.requires_grad)
assert isinstance(embedding.lookup, nn.Embedding)
assert torch.allclose(embedding(ids), one_hot_embed(ids, embedding.weight))

# One backward pass: only the rows of the tokens in the sentence receive a gradient.
embedding(ids).pow(2).sum().backward()
rows_with_gradient = embedding.weight.grad.abs().sum(dim=1).nonzero().flatten()
print("rows that would change:", vocab.tokens(rows_with_gradient))
assert sorted(rows_with_gradient.tolist()) == sorted(ids.tolist())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Comparing vectors: dot product and cosine
#
# Once words are vectors we can ask how alike two of them are.
#
# - **Dot product** a·b = Σ aᵢbᵢ: large when the vectors point the same way *and* are long.
# - **Cosine similarity** a·b / (|a| |b|): only the direction counts. It lies in [-1, 1]:
#   1 same direction, 0 unrelated (perpendicular), -1 opposite.

# %% slideshow={"slide_type": "fragment"}
a = torch.tensor([1.0, 2.0, 0.0])
b = torch.tensor([2.0, 4.0, 0.0])    # same direction, twice as long
c = torch.tensor([0.0, 0.0, 3.0])    # perpendicular to a
for name, other in [("b", b), ("c", c)]:
    dot = float(a @ other)
    cos = dot / float(a.norm() * other.norm())
    print(f"a·{name} = {dot:5.1f}   cosine(a, {name}) = {cos:.2f}")
assert math.isclose(float(F.cosine_similarity(a, b, dim=0)), 1.0, rel_tol=1e-6)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: a cosine-similarity matrix
#
# Write `cosine_similarity(vectors)`: for `vectors` of shape (T, d), one token per row,
# return a (T, T) float tensor whose entry (i, j) is the cosine similarity of rows i and j.
#
# Hint: make each row have length 1, then a single matrix product gives every pair.
# Do not use `similarity_matrix` or `F.cosine_similarity`: that would be cheating!

# %% slideshow={"slide_type": "fragment"}
def cosine_similarity(vectors: torch.Tensor) -> torch.Tensor:
    """vectors (T, d) → (T, T) cosine similarities."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_cosine_similarity(cosine_similarity)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def cosine_similarity_solution(vectors: torch.Tensor) -> torch.Tensor:
    """vectors (T, d) → (T, T) cosine similarities."""
    lengths = vectors.norm(dim=1, keepdim=True)   # (T, 1): one length per row (token)
    unit = vectors / lengths                      # every row now has length 1
    return unit @ unit.T                          # (T, d) @ (d, T) → (T, T)


assert checks.check_cosine_similarity(cosine_similarity_solution).passed
assert torch.allclose(cosine_similarity_solution(vectors), similarity_matrix(vectors, "cosine"), atol=1e-6)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Every pair at once
#
# Stack the vectors as rows of a matrix X (T × d; here `vectors`). Then X Xᵀ holds every pairwise dot
# product (T × T), and normalising each row first gives every cosine. The lib's
# `similarity_matrix` does both:

# %% slideshow={"slide_type": "fragment"}
dots = vectors @ vectors.T
unit = vectors / vectors.norm(dim=1, keepdim=True)
assert torch.allclose(dots, similarity_matrix(vectors, "dot"))
assert torch.allclose(unit @ unit.T, similarity_matrix(vectors, "cosine"), atol=1e-6)
figures.similarity_heatmap(similarity_matrix(vectors, "cosine"), vocab.tokens(ids),
                           title="Cosine similarity of the random vectors")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Untrained vectors mean nothing (yet)
#
# Is "pizza" closer to "cheese" than to "bus"? Not with a random table: the answer is a
# coin toss. The heatmap above shows large cosines all the same: with only 3 dimensions,
# two random vectors often point roughly the same way, or opposite ways, by chance. In
# many dimensions, random vectors are nearly perpendicular, so every cosine sits close
# to 0. Compare the largest cosine between two different words, in 3 and in 256
# dimensions:

# %% slideshow={"slide_type": "fragment"}
def largest_cosine(vectors: torch.Tensor) -> float:
    """The largest |cosine| between two different rows of vectors (T, d)."""
    sims = similarity_matrix(vectors, "cosine").abs()
    return float(sims[~torch.eye(len(vectors), dtype=torch.bool)].max())


wide = TokenEmbedding(len(vocab), 256, scale=False)
with torch.no_grad():
    wide_vectors = wide(ids)                                 # the same 4 tokens, 256 dimensions
    sims = similarity_matrix(wide(vocab.encode("pizza cheese bus")), "cosine")
print(f"largest |cosine| of tell, me, about, pizza:   3 dimensions {largest_cosine(vectors):.2f}   "
      f"256 dimensions {largest_cosine(wide_vectors):.2f}")
print(f"in 256 dimensions: cos(pizza, cheese) = {sims[0, 1]:+.2f}    cos(pizza, bus) = {sims[0, 2]:+.2f}")
assert largest_cosine(vectors) > 0.5 and largest_cosine(wide_vectors) < 0.3
assert sims[0, 1:].abs().max() < 0.3

# %% [markdown] slideshow={"slide_type": "fragment"}
# Training is what moves words used in similar ways towards each other. Keep this in
# mind: in chapter 08 you will see training give attention a meaning.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Scaling by √d<sub>model</sub>
#
# The paper multiplies the embedding vectors by √d<sub>model</sub> (section 3.4) without saying
# why. The usual explanation: in the next chapter a position signal with values between
# -1 and 1 is **added** to each vector. The paper shares the embedding table with the
# output layer (the model's last layer, chapter 07, which turns each vector back into one
# score per word of the vocabulary), whose weights are typically initialised small
# (about 1/√d<sub>model</sub>); such
# small word vectors would be drowned by the position signal. Multiplying by √d<sub>model</sub>
# brings them to the same scale. The next cell measures it with a wider table,
# d<sub>model</sub> = 64:

# %% slideshow={"slide_type": "fragment"}
d_scaled = 64                                                # a wider d_model for this cell; d_model stays 3
scaled = TokenEmbedding(len(vocab), d_scaled)                # scale=True is the default
nn.init.normal_(scaled.weight, std=d_scaled**-0.5)           # a small table, as the explanation assumes
with torch.no_grad():
    word = scaled(vocab.encode("pizza"))[0]
    raw = scaled.lookup(vocab.encode("pizza"))[0]
assert torch.allclose(word, raw * math.sqrt(d_scaled))
position_length = math.sqrt(d_scaled / 2)                    # |PE(pos)|: d_scaled/2 pairs, sin² + cos² = 1
print(f"length of the raw row: {raw.norm():.2f}   after × √{d_scaled}: {word.norm():.2f}   "
      f"length of a position vector (next chapter): {position_length:.2f}")
assert raw.norm() < position_length / 4                      # raw: drowned by the position signal
assert 0.5 < word.norm() / position_length < 2               # scaled: the same size

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: your own sentence
#
# Type any sentence. You see its tokens and ids, its vectors as a heatmap (one row per
# token), and the similarity of every pair. Things to try:
#
# - repeat a word ("the cat saw the dog"): both copies get the **same** row;
# - type a word the vocabulary lacks: it becomes `<unk>` and shares `<unk>`'s row;
# - switch between cosine and dot: the dot product is larger for longer vectors.

# %% slideshow={"slide_type": "subslide"}
explorer_embedding = TokenEmbedding(len(vocab), 8)
widgets.EmbeddingExplorer(vocab, explorer_embedding, text="the cat saw the dog")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
#
# - **text → tokens → ids → vectors.** A vocabulary maps each token to an id; ids 0–3 are
#   the special tokens `<pad>`, `<unk>`, `<bos>`, `<eos>`.
# - A sentence of T tokens with d-dimensional vectors is a **T × d matrix**
#   ("tell me about pizza" with d = 3: 4 × 3).
# - An embedding lookup equals **one-hot × table**; the table is a learned parameter
#   (`nn.Embedding`), and only the rows of tokens seen get a gradient.
# - **Dot product** measures direction and length, **cosine** only direction. Random
#   vectors have meaningless similarities: training gives them meaning.
# - The paper scales embeddings by **√d<sub>model</sub>** so the position signal added next does
#   not drown them.
#
# Next: **02 Positional encoding**, because so far nothing tells the model where each
# word stands.
