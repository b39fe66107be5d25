# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 06 · Masking: what may each token see?
#
# So far every token could attend to every other token. Two situations forbid that:
#
# - a model that **writes** text one word at a time must not peek at words that come
#   later: it would be cheating, and at writing time they do not exist yet;
# - sentences in a batch have different lengths, so the short ones are filled up with
#   `<pad>` tokens that mean nothing and must be **ignored**.
#
# A mask says, for every (query, key) pair, whether the query may look at the key.

# %% slideshow={"slide_type": "skip"}
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks, figures, widgets
from transformer_course.attention import MultiHeadAttention, SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.masks import additive_mask, causal_mask, combine_masks, padding_mask, to_blocked
from transformer_course.positional import sinusoidal_encoding
from transformer_course.tokenizer import course_vocab, tokenize

_ = torch.manual_seed(0)   # the same "random" numbers on every run

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The causal (look-ahead) mask
#
# A language model learns to predict the next word. Take "I love deep learning": the
# output at each position is used to guess the word that follows, so position i may only
# use words 0 … i. As a matrix, one row per query and one column per key, 1 = may see:

# %% slideshow={"slide_type": "fragment"}
tokens = tokenize("I love deep learning")
causal = causal_mask(len(tokens))                 # (4, 4) bool, True = may attend
print(" " * 10 + "".join(f"{t:>10}" for t in tokens))
for t, row in zip(tokens, causal.int().tolist()):
    print(f"{t:>10}" + "".join(f"{v:>10}" for v in row))
assert torch.equal(causal, torch.ones(4, 4, dtype=torch.bool).tril())

# %% slideshow={"slide_type": "subslide"}
figures.mask_heatmap(causal, tokens, title="Causal mask: lower triangle")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Step by step
#
# Read the mask row by row: each step sees itself and everything before it, never after.

# %% slideshow={"slide_type": "fragment"}
for i, t in enumerate(tokens):
    seen = [tokens[j] for j in range(len(tokens)) if causal[i, j]]
    # after the last word comes <eos>, the "end of sequence" token of chapter 01
    target = tokens[i + 1] if i + 1 < len(tokens) else "<eos>"
    print(f"step {i}: at {t!r:12} sees {seen!s:38} → learns to predict {target!r}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why the mask stops the model from cheating
#
# In training, the whole sentence is fed in at once and **every** position learns its
# next word in the same pass: that is what makes Transformers fast to train. Without the
# mask, the position of "love" could simply look one step ahead, read "deep", and copy
# it: a perfect score in training, and useless when generating, where the next word does
# not exist yet. The mask makes training match generation: every position must predict
# from the past alone.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Applying a mask: −∞ before the softmax
#
# A blocked score is replaced by −∞ **before** the softmax. Since e<sup>−∞</sup> = 0, blocked keys
# get exactly zero weight, and the allowed ones share the whole 1 between them.

# %% slideshow={"slide_type": "fragment"}
scores = torch.randn(4, 4) * 2                                   # (Lq, Lk) for our 4 words
masked_scores = scores.masked_fill(~causal, float("-inf"))
weights = torch.softmax(masked_scores, dim=-1)
print(weights.numpy().round(2))

assert torch.all(weights[~causal] == 0)                          # nothing from the future
assert torch.allclose(weights.sum(dim=-1), torch.ones(4))        # each row still sums to 1
# The same as adding a float mask of 0 / -inf, which some libraries expect:
assert torch.equal(weights, torch.softmax(scores + additive_mask(causal), dim=-1))

# %% slideshow={"slide_type": "subslide"}
figures.scores_heatmap(masked_scores, tokens, title="Masked scores")  # grey = −∞

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The wrong way: zeroing the weights after the softmax
#
# It is tempting to run the softmax first and then set the future weights to 0. Two
# things go wrong:
#
# 1. the rows no longer sum to 1, since the share that went to the future is thrown away
#    (only the last row, which has no future to hide, still does);
# 2. worse, the future still **leaks in**: it sits in the softmax's denominator, so the
#    weights on the past change when a future word changes.

# %% slideshow={"slide_type": "fragment"}
def zero_after_softmax(s):
    return torch.softmax(s, dim=-1).masked_fill(~causal, 0.0)


wrong = zero_after_softmax(scores)
print("row sums, zeroed after softmax:", wrong.sum(dim=-1).numpy().round(2))
assert not torch.allclose(wrong.sum(dim=-1)[:3], torch.ones(3))   # every row with a future …
assert torch.isclose(wrong.sum(dim=-1)[3], torch.tensor(1.0))     # … but the last, which hides nothing

changed_future = scores.clone()
changed_future[0, 3] += 5.0                 # only the score of "I" for the future word "learning"
right_before = torch.softmax(scores.masked_fill(~causal, float("-inf")), -1)
right_after = torch.softmax(changed_future.masked_fill(~causal, float("-inf")), -1)
assert torch.equal(right_before[0], right_after[0])                        # −∞ first: no leak
assert not torch.allclose(wrong[0], zero_after_softmax(changed_future)[0])  # zeroing: leak
print("weight of 'I' on itself, zeroed after softmax:",
      f"{wrong[0, 0]:.3f} → {zero_after_softmax(changed_future)[0, 0]:.3f} when the future changes")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The padding mask
#
# A batch is a rectangle: shorter sentences are filled on the right with `<pad>` (id 0).
# Padding must never be attended to. The mask is simply "is this token real?":
#
# ```python
# src_mask = (src != pad_idx).unsqueeze(1).unsqueeze(2)   # (batch, 1, 1, src_len)
# ```

# %% slideshow={"slide_type": "fragment"}
sentences = ["I love deep learning", "the cat sat", "tell me about pizza and cheese"]
vocab = course_vocab()
src = vocab.encode_batch(sentences)                          # (3, 6), padded with pad_id = 0
pad_idx = vocab.pad_id
assert pad_idx == 0
print(src)

src_mask = (src != pad_idx).unsqueeze(1).unsqueeze(2)        # (batch, 1, 1, src_len)
print("src_mask:", tuple(src_mask.shape))
assert torch.equal(src_mask, padding_mask(src, pad_idx))     # the lib's padding_mask is the same

# %% [markdown] slideshow={"slide_type": "fragment"}
# Why (batch, 1, 1, src_len)? Scores of multi-head attention have shape
# (batch, heads, queries, keys). The two 1s **broadcast**: every head and every query
# gets the same row, which hides the padded **keys**. Rows of padded queries still exist;
# their outputs are simply never used.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Combining padding and causal masks
#
# A decoder needs both: a key is visible only if it is in the past **and** real. Masks
# combine with a logical AND, and broadcasting does the rest:
# (L, L) & (B, 1, 1, L) → (B, 1, L, L).

# %% slideshow={"slide_type": "fragment"}
both = combine_masks(causal_mask(src.shape[1]), padding_mask(src, pad_idx))
print("combined:", tuple(both.shape))
assert torch.equal(both, causal_mask(6) & src_mask)
row_tokens = vocab.tokens(src[1])                   # "the cat sat" + 3 × <pad>: sentence 1, counting from 0
figures.mask_heatmap(both[1, 0], row_tokens, title="Causal AND padding, sentence 1")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: causal and padding masks
#
# Write `my_masked_weights(scores, ids, pad_id)`:
#
# - `scores` is a float32 tensor (B, L, L), one row per query and one column per key,
#   already scaled by √d: mask it and take the softmax, nothing more;
# - `ids` is an integer tensor (B, L), padded with `pad_id` (an int): compare the ids with
#   `pad_id`, not with 0, because one of the checker's batches pads with 1 (and there 0
#   is a real token);
# - each query may see itself and earlier tokens, and never a padding key;
# - return the (B, L, L) attention weights as a float tensor: the softmax over the keys
#   (the last axis), so that each query's row sums to 1.
#
# Build the mask yourself (no `masks.py` or `attention.py`!). The checker's batches are
# padded at the end, at the start and in the middle. A query that may see nothing at all
# (a `<pad>` at the start of a row) has no right answer, so its row is not compared.

# %% slideshow={"slide_type": "fragment"}
def my_masked_weights(scores, ids, pad_id):
    """scores (B, L, L), ids (B, L) → weights (B, L, L) under causal + padding masks."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_causal_masked_weights(my_masked_weights)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def masked_weights_solution(scores, ids, pad_id):
    """scores (B, L, L), ids (B, L) → weights (B, L, L) under causal + padding masks."""
    length = ids.shape[1]
    past = torch.ones(length, length, dtype=torch.bool).tril()     # (L, L): keys 0 … i
    real = (ids != pad_id).unsqueeze(1)                            # (B, 1, L): real keys
    allowed = past & real                                          # (B, L, L)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


assert checks.check_causal_masked_weights(masked_weights_solution).passed
masked = masked_weights_solution(torch.randn(3, 6, 6), src, pad_idx)     # the batch above
assert (masked[~both[:, 0]] == 0).all()                                  # nothing where the mask says no

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Three libraries, two conventions
#
# Careful: "True" does not mean the same thing everywhere.
#
# | where | boolean mask means | float mask |
# | --- | --- | --- |
# | this course (`masks.py`) | True = **may** attend | `additive_mask`: 0 / −∞ |
# | `F.scaled_dot_product_attention(attn_mask=…)` | True = **may** attend | added to the scores |
# | `nn.MultiheadAttention(attn_mask=…, key_padding_mask=…)` | True = **blocked** | added to the scores |

# %% [markdown] slideshow={"slide_type": "subslide"}
# `to_blocked` flips our masks for `nn.MultiheadAttention`. All three give the same output:

# %% slideshow={"slide_type": "fragment"}
d_model, h = 16, 4
torch_mha = nn.MultiheadAttention(d_model, h, batch_first=True).eval()
mha = MultiHeadAttention(d_model, h).load_from_torch(torch_mha).eval()
x = torch.randn(3, 6, d_model)
with torch.no_grad():
    ours, _ = mha(x, mask=both)                                          # True = may attend
    theirs, _ = torch_mha(x, x, x, attn_mask=to_blocked(causal_mask(6)),  # True = blocked
                          key_padding_mask=to_blocked(padding_mask(src, pad_idx)[:, 0, 0]))
    q = mha.split_heads(mha.q_proj(x))
    k, v = mha.split_heads(mha.k_proj(x)), mha.split_heads(mha.v_proj(x))
    fused = mha.out_proj(mha.merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=both)))
torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
torch.testing.assert_close(fused, theirs, atol=1e-5, rtol=0)
print("lib (True = attend) = nn.MultiheadAttention (True = blocked) = F.scaled_dot_product_attention")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Leakage check: the future cannot change the past
#
# The real test of a causal mask: change a **later** token, and the outputs at earlier
# positions must stay exactly the same. Without the mask, every output changes.

# %% slideshow={"slide_type": "fragment"}
embed = TokenEmbedding(len(vocab), d_model, scale=False)


def self_attention(text, mask):
    ids = vocab.encode(text).unsqueeze(0)                                # (1, L)
    with torch.no_grad():
        x = embed(ids) + sinusoidal_encoding(ids.shape[1], d_model)
        return mha(x, mask=mask)[0][0]                                   # (L, d_model)


a, b = "I love deep learning", "I love deep pizza"                      # only the last word differs
m = causal_mask(4)
same = (self_attention(a, m) - self_attention(b, m)).abs().amax(dim=-1)
print("causal,    change per position:", same.numpy().round(4))
assert torch.all(same[:3] < 1e-6) and same[3] > 0.01                     # earlier outputs untouched

leaky = (self_attention(a, None) - self_attention(b, None)).abs().amax(dim=-1)
print("no mask,   change per position:", leaky.numpy().round(4))
assert torch.all(leaky > 1e-4)                                           # the future leaks everywhere

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The other "mask": BERT's masked language modelling
#
# The word *mask* has a second meaning. BERT does not write text; it learns to
# **understand** it. In training it picks about 15 % of the tokens, hides most of them
# behind a special `[MASK]` token (the rest it swaps for a random word or leaves as they
# are), and learns to guess them back. Below, every picked token is hidden.
#
# To guess a hidden word, the words on **both** sides help, so BERT uses **no** causal
# mask: every token attends to every other (only padding is masked).

# %% slideshow={"slide_type": "subslide"}
words = tokenize("the pizza came out of the oven and it tasted good")
g = torch.Generator().manual_seed(3)
n_hidden = round(0.15 * len(words))                        # 15 % of 11 words → 2
hidden = set(torch.randperm(len(words), generator=g)[:n_hidden].tolist())
print(" ".join("[MASK]" if i in hidden else w for i, w in enumerate(words)))
print("to guess:", [words[i] for i in sorted(hidden)])
shown = ["[MASK]" if i in hidden else w for i, w in enumerate(words)]
bert_mask = torch.ones(len(words), len(words), dtype=torch.bool)   # every token sees every token
figures.mask_heatmap(bert_mask, shown, title="BERT's attention mask: nothing blocked")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Two meanings of "mask"
#
# | | GPT-style decoder | BERT-style encoder |
# | --- | --- | --- |
# | task | predict the next token | fill in hidden tokens |
# | attention mask | causal (+ padding) | padding only: both directions |
# | what "mask" means | which keys are blocked | which input tokens are hidden |

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Self-attention vs cross-attention
#
# Everything so far was **self**-attention: queries, keys and values come from the same
# sequence, so the weights are square (L × L). A translation model has two halves: an
# **encoder** reads the source sentence, a **decoder** writes the translation (chapter 07
# builds both). Its decoder also has **cross**-attention: its queries come from the text
# being written, the keys and values from the encoder's output. The weights are
# (L<sub>target</sub> × L<sub>source</sub>); only the source's padding needs masking there,
# since the whole source is known in advance.

# %% slideshow={"slide_type": "fragment"}
decoder_x = torch.randn(1, 3, d_model)                          # 3 target tokens written so far
encoder_out = torch.randn(1, 6, d_model)                        # 6 source tokens, the last 2 padding
source_ids = torch.tensor([[5, 6, 7, 8, pad_idx, pad_idx]])
with torch.no_grad():
    _, self_w = mha(decoder_x, mask=causal_mask(3))             # self: (1, h, 3, 3)
    _, cross_w = mha(decoder_x, encoder_out, mask=padding_mask(source_ids, pad_idx))   # (1, h, 3, 6)
print("self-attention weights:", tuple(self_w.shape), " cross-attention weights:", tuple(cross_w.shape))
assert torch.all(cross_w[..., 4:] == 0)                        # padded source keys get no weight

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: masks on a batch
#
# A batch of sentences, one per line, padded to the longest. Turn the **causal** and
# **padding** masks on and off, and pick which sentence of the batch to show with the
# `sentence` slider, which counts from 0 as Python does (0 is the first line). The four
# panels, in reading order: the padded batch (the shown sentence in bold, the others'
# `<pad>` greyed), its mask, the scores after masking, the weights. A masked cell is grey in
# the last two: −∞ among the scores, exactly 0 among the weights.
#
# - Both off: every query sees every key, `<pad>` included.
# - Padding only: the `<pad>` columns are blocked for every query; real words see each
#   other in both directions, as in BERT.
# - Causal only: the upper triangle is blocked. Real words never reach the padding
#   anyway (it comes after them); only the `<pad>` rows still see padding.
# - Pick sentence 2, the third line and the longest: it has no padding, so the padding
#   mask changes nothing.

# %% slideshow={"slide_type": "subslide"}
explorer_embed = TokenEmbedding(len(vocab), d_model, scale=False)
widgets.MaskExplorer(vocab, explorer_embed, SingleHeadAttention(d_model), sentences=tuple(sentences))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
#
# - The **causal mask** is lower-triangular: position i sees positions 0 … i. It keeps
#   training honest: no position can copy the word it must predict.
# - Masks act **before** the softmax, as −∞ scores. Zeroing weights afterwards breaks
#   the row sums and lets the future leak through the denominator.
# - The **padding mask** `(src != pad_idx)` is (batch, src_len); after
#   `.unsqueeze(1).unsqueeze(2)` it has shape (batch, 1, 1, src_len) and hides padded
#   keys; masks combine with AND.
# - Conventions differ: here and in `F.scaled_dot_product_attention` True = may attend;
#   `nn.MultiheadAttention` uses True = blocked.
# - With a causal mask, changing a later token leaves earlier outputs unchanged.
# - BERT's "masking" hides input tokens and attends both ways; cross-attention lets
#   decoder queries look at the encoder's keys and values.
#
# Next: **07 The full Transformer**, where these pieces become encoder and decoder layers.
