# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 07 · The full Transformer: stacking the blocks
#
# Chapters 01–06 built the parts: token embeddings, positions, attention with many
# heads, masks. This chapter puts them together into the model of "Attention Is All
# You Need", the one in the picture below.
#
# Two small new parts are needed: a **feed-forward network** applied to every token,
# and **Add & Norm**, which wraps every sublayer. Then we stack layers, add an output
# layer, and check the result number for number against PyTorch's own `nn.Transformer`.

# %% slideshow={"slide_type": "skip"}
import math

import torch
import torch.nn.functional as F
from IPython.display import HTML
from torch import nn
from transformer_course import checks, figures, widgets
from transformer_course.assets import asset_image
from transformer_course.layers import AddNorm, DecoderLayer, EncoderLayer, FeedForward
from transformer_course.masks import causal_mask, combine_masks, padding_mask, to_blocked
from transformer_course.model import (
    DecoderOnlyTransformer,
    EncoderOnlyTransformer,
    Transformer,
    TransformerConfig,
    count_parameters,
    shape_trace,
)
from transformer_course.tokenizer import course_vocab

_ = torch.manual_seed(0)   # the same "random" numbers on every run
vocab = course_vocab()

# %% slideshow={"slide_type": "subslide"}
asset_image("transformer.svg", width=960,
                    alt="The encoder-decoder Transformer: encoder stack left, decoder stack right")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The position-wise feed-forward network
#
# Attention mixes information **between** tokens. After it, each token goes through a
# small two-layer network of its own:
#
# $$\mathrm{FFN}(x) = \mathrm{ReLU}(x W_1 + b_1)\,W_2 + b_2$$
#
# (x is a row vector, as in the paper; the exercise below uses the same order, `x @ w_1`.)
# The paper widens each vector from d<sub>model</sub> = 512 to d<sub>ff</sub> = 2048 numbers
# and back. Think of it as the place where each token, having gathered context, "thinks it
# over" alone.

# %% slideshow={"slide_type": "fragment"}
d_model, d_ff = 16, 64
ffn = FeedForward(d_model, d_ff)
x = torch.randn(2, 5, d_model)                         # (batch, tokens, d_model)

by_hand = ffn.linear2(torch.relu(ffn.linear1(x)))      # (2, 5, 64) in the middle, then back to 16
assert torch.allclose(ffn(x), by_hand)
print("in:", tuple(x.shape), "→ hidden:", tuple(ffn.linear1(x).shape), "→ out:", tuple(ffn(x).shape))

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Position-wise** means the same weights are applied to every token *on its own*:
# feeding token 3 alone gives exactly its row of the full output. Nothing flows between
# tokens here; that is attention's job.

# %% slideshow={"slide_type": "fragment"}
alone = ffn(x[:, 3:4])                                  # only token 3
assert torch.allclose(alone, ffn(x)[:, 3:4], atol=1e-6)
print(f"parameters: {count_parameters(ffn)} = 16·64 + 64 + 64·16 + 16")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: the feed-forward network
#
# Write `my_feed_forward(x, w_1, b_1, w_2, b_2)` in the maths convention, `x @ W + b`: `w_1`
# is (d<sub>model</sub>, d<sub>ff</sub>), `b_1` is (d<sub>ff</sub>,), `w_2` is
# (d<sub>ff</sub>, d<sub>model</sub>), `b_2` is (d<sub>model</sub>,). It must work for `x` of
# any shape (..., d<sub>model</sub>), one sentence or a whole batch. (`nn.Linear`
# stores its matrix the other way round, (out, in): the lib's layer gives the same result
# with `linear1.weight.T`.) As in every layer of this chapter, keep the gradients flowing:
# no `torch.no_grad()` or `.detach()` inside.

# %% slideshow={"slide_type": "fragment"}
def my_feed_forward(x, w_1, b_1, w_2, b_2):
    """x (..., d_model) → (..., d_model), through a hidden layer of width d_ff."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_feed_forward(my_feed_forward)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def feed_forward_solution(x, w_1, b_1, w_2, b_2):
    """x (..., d_model) → (..., d_model), through a hidden layer of width d_ff."""
    hidden = torch.relu(x @ w_1 + b_1)                  # (..., d_ff): widen, keep the positive part
    return hidden @ w_2 + b_2                           # (..., d_model): back to the model's width


assert checks.check_feed_forward(feed_forward_solution).passed
ffn_weights = (ffn.linear1.weight.T, ffn.linear1.bias, ffn.linear2.weight.T, ffn.linear2.bias)
assert torch.allclose(feed_forward_solution(x, *ffn_weights), ffn(x), atol=1e-6)   # the lib's layer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Add & Norm
#
# Every sublayer (attention or feed-forward) is wrapped in the same two steps:
#
# 1. **Add**: a *residual connection* adds the sublayer's input to its output,
#    `x + sublayer(x)`. The sublayer only has to learn a *change* to x.
# 2. **Norm**: *layer normalisation* rescales each token's vector to mean 0 and
#    variance 1 (then applies a learned scale and shift).
#
# **Dropout** (`nn.Dropout(p)`), used only in training, sets a random fraction p of the
# numbers to 0 and scales the rest by 1/(1 − p), so no single number can be relied on.
# `model.eval()` switches it off and `model.train()` back on. The models we compare number
# for number below are in eval mode or use `dropout=0.0`.
#
# The paper normalises after the addition (**post-norm**): `LayerNorm(x + sublayer(x))`.
# Most models since GPT-2 normalise the sublayer's input instead (**pre-norm**):
# `x + sublayer(LayerNorm(x))`. The lib's `AddNorm` does either.

# %% slideshow={"slide_type": "subslide"}
norm = nn.LayerNorm(d_model)
post = norm(x + ffn(x))                                 # the paper
pre = x + ffn(norm(x))                                  # GPT-2 and most models since

add_norm_post = AddNorm(d_model)                        # fresh LayerNorm: scale 1, shift 0, like `norm`
add_norm_pre = AddNorm(d_model, norm_first=True)
assert torch.allclose(add_norm_post(x, ffn), post, atol=1e-6)
assert torch.allclose(add_norm_pre(x, ffn), pre, atol=1e-6)

token = post[0, 0].detach()
mean = round(float(token.mean()), 3) + 0.0              # + 0.0 turns a rounded -0.0 into 0.0
print(f"after post-norm, token 0 has mean {mean:.3f} and std {token.std(unbiased=False):.3f}")
assert abs(mean) < 1e-3

# %% slideshow={"slide_type": "fragment"}
drop, ones = nn.Dropout(p=0.5), torch.ones(1000)        # a new module is in training mode
with torch.random.fork_rng():                           # leaves the chapter's random numbers as they were
    dropped = drop(ones)
assert set(dropped.unique().tolist()) == {0.0, 2.0}     # set to 0, or scaled by 1/(1 − 0.5) = 2
assert torch.equal(drop.eval()(ones), ones)             # eval mode: switched off
print(f"dropout p = 0.5 in training: {int((dropped == 0).sum())} of 1000 ones set to 0, the rest "
      f"became {dropped.max():.0f}; in eval mode all stay 1")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: layer normalisation
#
# Write the LayerNorm itself, for each token's vector x of d features:
#
# 1. its mean μ, and its variance σ², the mean of (x − μ)²: divided by d, not d − 1;
# 2. x̂ = (x − μ) / √(σ² + ε), where the small ε keeps an almost constant vector from
#    being blown up;
# 3. x̂ * weight + bias, entry by entry (not a dot product): a learned scale and shift per
#    feature (they start at 1 and 0).

# %% slideshow={"slide_type": "fragment"}
def my_layer_norm(x, weight, bias, eps):
    """x (..., d) → (..., d): each vector along the last dimension normalised, scaled, shifted."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_layer_norm(my_layer_norm)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def layer_norm_solution(x, weight, bias, eps):
    """x (..., d) → (..., d): each vector along the last dimension normalised, scaled, shifted."""
    mean = x.mean(dim=-1, keepdim=True)                      # (..., 1): one mean per token
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)       # divided by d, not d - 1
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


assert checks.check_layer_norm(layer_norm_solution).passed
assert torch.allclose(layer_norm_solution(x + ffn(x), norm.weight, norm.bias, norm.eps), post, atol=1e-6)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: Add & Norm, both ways
#
# Write `my_add_norm(block, x, sublayer)`, the forward pass of the lib's `AddNorm`, from its
# parts `block.norm` (a LayerNorm), `block.dropout` (an `nn.Dropout`) and `block.norm_first`:
#
# - post-norm (`norm_first=False`, the paper): `norm(x + dropout(sublayer(x)))`;
# - pre-norm (`norm_first=True`): `x + dropout(sublayer(norm(x)))`.
#
# The dropout module switches itself off when the block is in eval mode. The checker tries
# both forms, in eval and in training mode (with the lib's own random numbers). Leave the
# mode to the caller: a `block.eval()` inside your function would keep the caller's block in
# eval mode after the call, dropout off for the rest of training (the checker fails it and
# says why).

# %% slideshow={"slide_type": "fragment"}
def my_add_norm(block: AddNorm, x: torch.Tensor, sublayer) -> torch.Tensor:
    """x (B, L, d_model) → (B, L, d_model): sublayer wrapped in a residual and a LayerNorm."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_add_norm(my_add_norm)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def add_norm_solution(block: AddNorm, x: torch.Tensor, sublayer) -> torch.Tensor:
    """x (B, L, d_model) → (B, L, d_model): sublayer wrapped in a residual and a LayerNorm."""
    if block.norm_first:                                # pre-norm: normalise what goes in
        return x + block.dropout(sublayer(block.norm(x)))
    return block.norm(x + block.dropout(sublayer(x)))   # post-norm: normalise the sum


assert checks.check_add_norm(add_norm_solution).passed
assert torch.allclose(add_norm_solution(add_norm_post, x, ffn), post, atol=1e-6)
assert torch.allclose(add_norm_solution(add_norm_pre, x, ffn), pre, atol=1e-6)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why the residual matters in a deep stack
#
# Training sends a gradient back from the loss through every layer. Chapter 00 showed
# what repeated multiplication does: a factor below 1, applied again and again, leaves
# almost nothing.
#
# An experiment: stack 30 feed-forward blocks, compute a loss at the top, and measure
# the gradient that reaches each block's weights, for five designs: plain blocks, plain
# blocks with another initialisation (He, explained below), residual without a norm,
# post-norm (the paper) and pre-norm.

# %% slideshow={"slide_type": "subslide"}
depth = 30
x0, target = torch.randn(8, 10, d_model), torch.randn(8, 10, d_model)


def deep_stack(design: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient norm of each block's first weight matrix, and each block's output std."""
    torch.manual_seed(1)                                # the same weights for every design
    blocks = [FeedForward(d_model, d_ff) for _ in range(depth)]
    if design == "plain, He init":                      # variance 2/fan_in before the ReLU, 1/fan_in after
        # (fan_in: the number of inputs of a layer; see the cells below)
        for block in blocks:
            nn.init.kaiming_normal_(block.linear1.weight, nonlinearity="relu")
            nn.init.kaiming_normal_(block.linear2.weight, nonlinearity="linear")
    wraps = [AddNorm(d_model, norm_first=design == "pre-norm") for _ in range(depth)]
    h, stds = x0, []
    for block, wrap in zip(blocks, wraps):
        if design.startswith("plain"):
            h = block(h)
        elif design == "residual, no norm":
            h = h + block(h)
        else:                                           # post-norm (the paper) or pre-norm
            h = wrap(h, block)
        stds.append(h.std().detach())
    F.mse_loss(h, target).backward()
    return torch.stack([b.linear1.weight.grad.norm() for b in blocks]), torch.stack(stds)


# %% slideshow={"slide_type": "subslide"}
designs = ["plain (no residual)", "plain, He init", "residual, no norm", "post-norm (paper)", "pre-norm"]
grads, stds = {}, {}
for design in designs:
    grads[design], stds[design] = deep_stack(design)
    g = grads[design]
    print(f"{design:20s} gradient at block 0: {g[0]:.1e}   at block {depth - 1}: {g[-1]:.1e}")

# %% slideshow={"slide_type": "subslide"}
figures.depth_figure(grads, title="Gradient reaching each of 30 stacked blocks",
                     y_title="gradient norm (log scale)")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Blocks are counted from 0, as Python counts them (`blocks[0]`): block 0 is the one
# closest to the input, block 29 the last. The plain stack, as PyTorch builds it, loses
# the gradient at a roughly constant rate per block: block 0 gets more than a million
# million times less than block 29 (about 10¹⁷ times less here), so it never learns.
# With `x + block(x)` the gradient has a direct path around each block (the derivative
# of `x` is 1), and every block gets a gradient of about the same size.

# %% [markdown] slideshow={"slide_type": "subslide"}
# On an axis twenty powers of ten tall, the other four designs share one thin band at the
# top. Here they are on an axis of their own, the plain stack left out (greyed in the
# legend: click its name to draw it again). Each design with a residual keeps its gradient
# within a factor of 2 from block 0 to block 29; the plain stack with He initialisation
# (explained next) wanders further.

# %% slideshow={"slide_type": "fragment"}
for name in ("residual, no norm", "post-norm (paper)", "pre-norm"):
    assert grads[name].max() < 2 * grads[name].min()    # a residual: within a factor of 2
assert grads["plain, He init"].max() > 2 * grads["plain, He init"].min()   # He init: further
figures.depth_figure(grads, title="The four that keep their gradient, up close",
                     y_title="gradient norm (log scale)", hidden=["plain (no residual)"])

# %% [markdown] slideshow={"slide_type": "subslide"}
# **But the plain stack's loss of 10¹⁷ comes mostly from the initialisation, not from depth itself.**
# `nn.Linear` draws its weights with variance 1/(3·fan_in), where **fan_in** is the
# number of inputs each output adds up (d<sub>model</sub> for the first Linear of a block,
# d<sub>ff</sub> for the second). So a block (Linear, ReLU, Linear) shrinks the variance of
# what passes through it about 18-fold (1/3 · 1/2 · 1/3), forwards and backwards. **He
# initialisation** picks the variance that keeps the size instead: 2/fan_in for the
# layer in front of the ReLU (which zeroes half the signal), 1/fan_in for the other.
# The same plain stack, with only that change ("plain, He init" above), loses less than
# a factor of ten between block 29 and block 0 (printed below), where the default lost
# 10¹⁷; in between it wanders, as the close-up showed.

# %% slideshow={"slide_type": "fragment"}
plain, he, residual = grads["plain (no residual)"], grads["plain, He init"], grads["post-norm (paper)"]
for name, g in (("plain, default init", plain), ("plain, He init", he), ("post-norm (paper)", residual)):
    print(f"{name:20s} block {depth - 1} gets {float(g[-1] / g[0]):.3g} × the gradient of block 0")
assert plain[0] < 1e-12 * plain[-1]                     # vanished, with PyTorch's default init…
assert 1 / 10 < he[0] / he[-1] < 10                     # …but not with He init
assert residual[0] > 0.5 * residual[-1]                 # the residual: survives all 30 blocks

# %% [markdown] slideshow={"slide_type": "fragment"}
# So why residuals at all? A good initialisation is only a starting point: a plain stack
# still multiplies 30 blocks' derivatives together, so it depends on every block being
# scaled just so, and nothing keeps it that way once training starts changing the
# weights. The residual's direct path has derivative exactly 1 whatever the weights are,
# which is why very deep Transformers (and ResNets before them) train at all.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### And the norm?
#
# Residuals alone let the activations grow: each block adds its output on top. Layer
# normalisation after the addition (post-norm) keeps every token's vector at the same
# scale, whatever the depth.

# %% slideshow={"slide_type": "fragment"}
figures.depth_figure(stds, title="Size of the activations after each block",
                     y_title="standard deviation", log=False)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Pre-norm normalises only what goes *into* each block, so its main stream still grows
# slowly; that is why pre-norm models put one last LayerNorm after the whole stack (the
# lib's `final_norm`).
#
# And the plain stack? With He initialisation its size wanders but stays within a factor
# of ten of where it started. With the default initialisation it drops to about a tenth
# within three blocks, then holds there. That floor is not the input: it is what the
# blocks' own biases add.

# %% [markdown] slideshow={"slide_type": "subslide"}
# The input itself is lost: two different inputs leave block 29 as (almost exactly) the same vector:

# %% slideshow={"slide_type": "fragment"}
grow, steady = stds["residual, no norm"], stds["post-norm (paper)"]
assert grow[-1] > 1.5 * grow[0]
assert torch.allclose(steady, torch.ones(depth), atol=0.01)
print(f"residual only:  std {grow[0]:.2f} → {grow[-1]:.2f}")
print(f"with LayerNorm: std {steady[0]:.2f} → {steady[-1]:.2f}")
he_stds, plain_stds = stds["plain, He init"], stds["plain (no residual)"]
assert he_stds.min() > he_stds[0] / 10                  # He init: within a factor of ten
assert plain_stds[2:].min() > 0.03 and plain_stds[2:].max() < 0.2   # default: about 0.1, and holds

with torch.random.fork_rng(), torch.no_grad():         # leaves the chapter's random numbers as they were
    torch.manual_seed(1)                                # the blocks of "plain (no residual)" again
    plain_blocks = [FeedForward(d_model, d_ff) for _ in range(depth)]
    a, b = x0, torch.randn_like(x0)                     # two different inputs
    start_gap = (a - b).abs().max()
    for block in plain_blocks:
        a, b = block(a), block(b)
    end_gap = (a - b).abs().max()
print(f"plain, default init: two inputs {start_gap:.1f} apart go in; after block {depth - 1} each has "
      f"std {a.std():.2f}, and they are {end_gap:.0e} apart")
assert end_gap < 1e-5 * start_gap                       # the input is forgotten; the biases remain

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The encoder layer
#
# One encoder layer = multi-head self-attention, then the feed-forward network, each
# wrapped in Add & Norm. Its output has the same shape as its input, (B, L, d<sub>model</sub>),
# and that is what lets us stack as many as we like.
#
# The lib's `EncoderLayer` is built from the chapters' own parts. We copy the weights of
# PyTorch's `nn.TransformerEncoderLayer` into it and compare.

# %% slideshow={"slide_type": "fragment"}
d_model, heads, d_ff = 32, 4, 64
src = vocab.encode_batch(["the pizza came out of the oven", "the cat sat"])   # (2, 7), padded
x = torch.randn(2, src.shape[1], d_model)

reference = nn.TransformerEncoderLayer(d_model, heads, d_ff, dropout=0.0, batch_first=True).eval()
encoder_layer = EncoderLayer(d_model, heads, d_ff, dropout=0.0).load_from_torch(reference).eval()

mask = padding_mask(src, vocab.pad_id)                  # (2, 1, 1, 7), True = may attend
mine = encoder_layer(x, mask, need_weights=True)
theirs = reference(x, src_key_padding_mask=to_blocked(mask)[:, 0, 0])   # PyTorch: True = blocked
assert torch.allclose(mine, theirs, atol=1e-5)
print("EncoderLayer matches nn.TransformerEncoderLayer:", tuple(mine.shape))
print("self-attention weights kept for figures:", tuple(encoder_layer.self_attn_weights.shape))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: an encoder layer
#
# Write `my_encoder_layer(layer, x, mask)`, the forward pass of a post-norm encoder layer,
# from the parts of the lib's `EncoderLayer`:
#
# - `layer.self_attn(x, mask=mask)` returns `(output, weights)`;
# - `layer.feed_forward(x)`; `layer.norm1` and `layer.norm2`, the two LayerNorms.
#
# `mask` is the padding mask (B, 1, 1, L), True = may attend. The checker compares your
# layer with PyTorch's `nn.TransformerEncoderLayer`, whose weights the lib's layer copied.

# %% slideshow={"slide_type": "fragment"}
def my_encoder_layer(layer: EncoderLayer, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, L, d_model), mask (B, 1, 1, L), True = may attend → (B, L, d_model)."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_encoder_layer(my_encoder_layer)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def encoder_layer_solution(layer: EncoderLayer, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, L, d_model), mask (B, 1, 1, L), True = may attend → (B, L, d_model)."""
    attended, _ = layer.self_attn(x, mask=mask)         # every token looks at every real token
    x = layer.norm1(x + attended)                       # Add & Norm 1
    return layer.norm2(x + layer.feed_forward(x))       # Add & Norm 2


assert checks.check_encoder_layer(encoder_layer_solution).passed
assert torch.allclose(encoder_layer_solution(encoder_layer, x, mask), theirs, atol=1e-5)   # PyTorch's

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The decoder layer
#
# A decoder layer has **three** sublayers, each with Add & Norm:
#
# 1. **Masked self-attention** over the target tokens so far (the causal mask of
#    chapter 06: no peeking at later words).
# 2. **Cross-attention**: the *queries* come from the decoder, the *keys and values* from
#    the encoder's output (the "memory"). This is where the decoder reads the source.
# 3. The **feed-forward** network.

# %% slideshow={"slide_type": "subslide"}
trg_in = vocab.encode_batch(["it tasted good", "it sat"], add_bos=True)   # (2, 4)
y = torch.randn(2, trg_in.shape[1], d_model)
memory = mine                                           # the encoder layer's output, (2, 7, 32)

reference = nn.TransformerDecoderLayer(d_model, heads, d_ff, dropout=0.0, batch_first=True).eval()
decoder_layer = DecoderLayer(d_model, heads, d_ff, dropout=0.0).load_from_torch(reference).eval()

lt = trg_in.shape[1]
self_mask = combine_masks(causal_mask(lt), padding_mask(trg_in, vocab.pad_id))   # (2, 1, 4, 4)
cross_mask = padding_mask(src, vocab.pad_id)                                     # (2, 1, 1, 7)
out = decoder_layer(y, memory, self_mask, cross_mask, need_weights=True)
expected = reference(y, memory, tgt_mask=to_blocked(causal_mask(lt)),
                     tgt_key_padding_mask=trg_in == vocab.pad_id,
                     memory_key_padding_mask=src == vocab.pad_id)
assert torch.allclose(out, expected, atol=1e-5)
print("DecoderLayer matches nn.TransformerDecoderLayer:", tuple(out.shape))
print("masked self-attention weights:", tuple(decoder_layer.self_attn_weights.shape), "(B, h, Lt, Lt)")
print("cross-attention weights:      ", tuple(decoder_layer.cross_attn_weights.shape), "(B, h, Lt, Ls)")
assert (heads, lt) == (4, 4)                            # the sentence below: h and Lt both 4

# %% [markdown] slideshow={"slide_type": "subslide"}
# Here h and Lt are both 4: in the self-attention's (2, 4, 4, 4), the second number counts
# heads and the last two count target positions. Cross-attention is not square: each of
# the 4 target positions spreads its attention over the 7 source positions. Below, head 0
# for sentence pair 0, the first (the layer is untrained, so the pattern means nothing yet:
# chapter 08 trains it).

# %% slideshow={"slide_type": "fragment"}
src_tokens = vocab.tokens(src[0])
trg_tokens = vocab.tokens(trg_in[0])
assert (len(trg_tokens), len(src_tokens)) == (4, 7)     # 4 target positions, 7 source positions
figures.attention_heatmap(decoder_layer.cross_attn_weights[0, 0].detach(), trg_tokens, src_tokens,
                          title="Cross-attention (untrained), head 0, sentence 0: "
                                "target queries × source keys")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: a decoder layer's forward pass
#
# Write the forward pass of a **post-norm** decoder layer (as in the paper), using the
# parts of the lib's `DecoderLayer`:
#
# - `layer.self_attn(query, key, value, mask)` and `layer.cross_attn(...)` return
#   `(output, weights)`; with only `query` given, attention is self-attention;
# - `layer.feed_forward(x)`;
# - `layer.norm1`, `layer.norm2`, `layer.norm3`: the three LayerNorms.
#
# `x` is (B, Lt, d<sub>model</sub>), `memory` is (B, Ls, d<sub>model</sub>); no padding here, but the
# self-attention needs its causal mask (`causal_mask(length)`).

# %% slideshow={"slide_type": "fragment"}
def my_decoder_layer(layer: DecoderLayer, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """x (B, Lt, d_model), memory (B, Ls, d_model) → (B, Lt, d_model)."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_decoder_layer(my_decoder_layer)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def decoder_layer_solution(layer: DecoderLayer, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """x (B, Lt, d_model), memory (B, Ls, d_model) → (B, Lt, d_model)."""
    mask = causal_mask(x.shape[1])                      # no peeking at later target tokens
    attended, _ = layer.self_attn(x, mask=mask)
    x = layer.norm1(x + attended)                       # Add & Norm 1
    attended, _ = layer.cross_attn(x, memory, memory)   # queries from x, keys and values from memory
    x = layer.norm2(x + attended)                       # Add & Norm 2
    return layer.norm3(x + layer.feed_forward(x))       # Add & Norm 3


assert checks.check_decoder_layer(decoder_layer_solution).passed
by_parts = decoder_layer_solution(decoder_layer, y, memory)               # the layer above, no padding
assert torch.allclose(by_parts, decoder_layer(y, memory, causal_mask(lt)), atol=1e-5)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Stacking N layers and the output projection
#
# The model is now a few lines:
#
# 1. **Embed** the source ids (× √d<sub>model</sub>, chapter 01) and **add positions** (chapter 02).
# 2. Run them through **N encoder layers**: the result is the memory, (B, Ls, d<sub>model</sub>).
# 3. Embed the target the same way and run it through **N decoder layers**, each of which
#    reads the memory through cross-attention.
# 4. The **output projection**, a linear layer d<sub>model</sub> → V, turns each decoder vector
#    into one score (logit) per vocabulary word. A softmax makes them probabilities.
#
# The paper uses N = 6 and **ties** the weights: one V × d<sub>model</sub> matrix is the source
# embedding, the target embedding and the output projection. The lib's `Transformer`
# does all of this; `TransformerConfig` holds the sizes.

# %% slideshow={"slide_type": "subslide"}
config = TransformerConfig(vocab_size=len(vocab), d_model=32, num_heads=4, num_encoder_layers=2,
                           num_decoder_layers=2, d_ff=64, dropout=0.0, max_len=64)
model = Transformer(config).eval()
# the sizes explained so far; print(config) also lists the other fields, each at its default
explained = ("vocab_size", "d_model", "num_heads", "num_encoder_layers", "num_decoder_layers", "d_ff",
             "max_len")
print(", ".join(f"{name}={getattr(config, name)}" for name in explained))
assert model.output.weight is model.src_embed.token.weight is model.trg_embed.token.weight
print(f"{count_parameters(model):,} parameters; the {len(vocab)} × 32 embedding is shared three ways")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: the whole forward pass
#
# Write `my_encoder_decoder_forward(parts, src, trg_in)` → logits (B, Lt, V), from the
# model's parts (`checks.Seq2SeqParts.of(model)` hands them to you):
#
# - `parts.embedding(ids)`: the token vectors, not yet scaled; `parts.positions`: the
#   (max_len, d<sub>model</sub>) sinusoidal table of chapter 02; `parts.pad_id`;
# - `parts.encoder(x, src_mask)` → memory; `parts.decoder(y, memory, trg_mask, src_mask)`;
# - `parts.output(h)`: one score per vocabulary word.
#
# Embed both sentences as in chapters 01–02: × √d<sub>model</sub> (d<sub>model</sub> is
# `parts.embedding.embedding_dim`), + positions. The masks are chapter 06's:
# `padding_mask(src, pad_id)` (B, 1, 1, Ls) for the encoder and for cross-attention;
# `causal_mask(Lt) & padding_mask(trg_in, pad_id)` for the decoder.

# %% slideshow={"slide_type": "fragment"}
def my_encoder_decoder_forward(parts, src: torch.Tensor, trg_in: torch.Tensor) -> torch.Tensor:
    """src (B, Ls), trg_in (B, Lt) ids → logits (B, Lt, V)."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_encoder_decoder_forward(my_encoder_decoder_forward)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def encoder_decoder_forward_solution(parts, src: torch.Tensor, trg_in: torch.Tensor) -> torch.Tensor:
    """src (B, Ls), trg_in (B, Lt) ids → logits (B, Lt, V)."""
    def embed(ids):                                     # (B, L) → (B, L, d_model)
        vectors = parts.embedding(ids) * math.sqrt(parts.embedding.embedding_dim)
        return vectors + parts.positions[: ids.shape[1]]

    src_mask = padding_mask(src, parts.pad_id)          # (B, 1, 1, Ls): never attend to <pad>
    memory = parts.encoder(embed(src), src_mask)        # (B, Ls, d_model)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)   # (B, 1, Lt, Lt)
    hidden = parts.decoder(embed(trg_in), memory, trg_mask, src_mask)              # (B, Lt, d_model)
    return parts.output(hidden)                         # (B, Lt, V)


assert checks.check_encoder_decoder_forward(encoder_decoder_forward_solution).passed
model_parts = checks.Seq2SeqParts.of(model)             # the parts of the model just built
logits = encoder_decoder_forward_solution(model_parts, src, trg_in)
assert torch.allclose(logits, model(src, trg_in), atol=1e-5)   # exactly the lib's forward

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The shifted target
#
# The decoder learns to predict the **next** token. So it reads the target shifted right
# by one (it starts with `<bos>`), and at every position the label is the token that
# comes next:
#
# ```python
# logits = model(src, trg[:, :-1])     # the decoder sees <bos> … up to the second-last token
# labels = trg[:, 1:]                  # and must predict the first token … up to <eos>
# ```

# %% slideshow={"slide_type": "fragment"}
src = vocab.encode_batch(["the pizza came out of the oven"])
trg = vocab.encode_batch(["it tasted good"], add_bos=True, add_eos=True)   # (1, 5)
trg_in, labels = trg[:, :-1], trg[:, 1:]

print(f"{'position':>8}  {'decoder reads':>14}  {'must predict':>12}")
for i, (seen, nxt) in enumerate(zip(vocab.tokens(trg_in[0]), vocab.tokens(labels[0]))):
    print(f"{i:>8}  {seen:>14}  {nxt:>12}")

# %% slideshow={"slide_type": "subslide"}
logits = model(src, trg_in)                             # (1, 4, V)
loss = F.cross_entropy(logits.reshape(-1, len(vocab)), labels.reshape(-1))
print("logits:", tuple(logits.shape), "labels:", tuple(labels.shape))
print(f"loss before training: {loss:.2f}")
print(f"a uniform guess over the V = {len(vocab)} words: ln V = {math.log(len(vocab)):.2f}")
assert logits.shape == (1, trg_in.shape[1], len(vocab))
assert 0.5 < loss.item() - math.log(len(vocab)) < 1.5   # worse than uniform, by about a nat
assert (f"{loss:.2f}", f"{math.log(len(vocab)):.2f}") == ("6.90", "5.81")   # as the text below says
right = torch.log_softmax(logits, dim=-1)[0, torch.arange(labels.shape[1]), labels[0]]   # ln p(right token)
assert torch.allclose(-right.mean(), loss)              # cross-entropy: the mean of −ln p(right token)

# %% [markdown] slideshow={"slide_type": "fragment"}
# The loss is **cross-entropy**: the average over positions of −ln(the probability the
# model gave the right next token), in nats (chapter 04). A uniform guess gives every word
# 1/V, so its loss is ln V = 5.81. Untrained, the model does worse, 6.90, about a nat
# above, because its random scores are confidently wrong about some words. Chapter 08
# trains this loss down.
#
# Thanks to the causal mask, one forward pass trains all positions at once, and no
# position can cheat by looking at the word it has to predict: changing a later target
# token leaves the earlier logits exactly as they were.

# %% slideshow={"slide_type": "fragment"}
changed = trg_in.clone()
changed[0, 3] = vocab.stoi["cake"]                      # change the last token the decoder reads
assert torch.allclose(model(src, changed)[:, :3], logits[:, :3], atol=1e-5)
assert not torch.allclose(model(src, changed)[:, 3], logits[:, 3])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The shapes at every stage
#
# B = batch, Ls / Lt = source / target length, d = d<sub>model</sub>, h = heads, V = vocabulary.
# The table below is read from the tensors of a real run (2 source sentences of up to
# 7 tokens, target input of 5 tokens).

# %% slideshow={"slide_type": "fragment"}
src = vocab.encode_batch(["the pizza came out of the oven", "the cat sat"])
trg_in = vocab.encode_batch(["it tasted very good", "it sat"], add_bos=True)
rows = shape_trace(model, src, trg_in)
HTML(widgets.shapes_table(rows))

# %% slideshow={"slide_type": "fragment"}
shapes = {stage: shape for stage, shape, _ in rows}
assert shapes["memory = encoder output"] == (2, 7, 32)
assert shapes["cross-attention weights"] == (2, 4, 5, 7)   # (B, h, Lt, Ls)
assert shapes["logits = output projection"] == (2, 5, len(vocab))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Checked against `nn.Transformer`
#
# PyTorch's `nn.Transformer` is the encoder and decoder stacks (with a final LayerNorm
# after each, as the lib's default `final_norm=True`), without embeddings or output layer.
# (The paper's post-norm model has no such final norm: its last sublayer already ends in
# a LayerNorm. The lib follows `nn.Transformer` by default, which pre-norm models need;
# `final_norm=False` gives the paper's exact model.)
# Copy its weights into our model, give both the same embeddings and output projection,
# and the logits agree to within 1e-5.

# %% slideshow={"slide_type": "fragment"}
core = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                      dim_feedforward=64, dropout=0.0, batch_first=True).eval()
model.load_from_torch(core)

pad = vocab.pad_id
hidden = core(model.src_embed(src), model.trg_embed(trg_in),
              tgt_mask=to_blocked(causal_mask(trg_in.shape[1])),
              src_key_padding_mask=src == pad, tgt_key_padding_mask=trg_in == pad,
              memory_key_padding_mask=src == pad)
assert torch.allclose(model(src, trg_in), model.output(hidden), atol=1e-5)
print("lib's Transformer matches nn.Transformer with copied weights")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## The paper's base model: 65 million parameters (63 million here)
#
# With the paper's sizes (d<sub>model</sub> 512, 6 + 6 layers, 8 heads, d<sub>ff</sub> 2048, a shared
# vocabulary of 37,000 tokens, tied embeddings) the lib's model has **63.1 million**
# parameters; the paper reports 65M (its exact vocabulary and counting rules may differ a
# little). Almost a third sit in the embedding matrix. We count them on PyTorch's **meta**
# device: tensors with shapes but no storage (on the CPU they would take 250 MB).

# %% slideshow={"slide_type": "fragment"}
with torch.device("meta"):                              # shapes only: nothing is allocated
    base = Transformer(TransformerConfig())             # the paper's sizes, + nn.Transformer's final norms
total = count_parameters(base)
parts = {
    "shared embedding / output (37,000 × 512)": count_parameters(base.src_embed),
    "encoder (6 layers)": count_parameters(base.encoder),
    "decoder (6 layers)": count_parameters(base.decoder),
}
for name, n in parts.items():
    print(f"{name:42s} {n / 1e6:6.2f}M")
print(f"{'total':42s} {total / 1e6:6.2f}M")
assert 63e6 < total < 66e6 and sum(parts.values()) == total
final_norms = count_parameters(base.encoder.norm) + count_parameters(base.decoder.norm)
assert final_norms == 2 * 2 * 512                       # a scale and a shift per dimension, twice
print(f"of which the two final LayerNorms, not in the paper: {final_norms:,}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## One set of blocks, three families of models
#
# | family | blocks | each token sees | examples |
# | --- | --- | --- | --- |
# | encoder-only | encoder layers | every token | BERT, RoBERTa |
# | decoder-only | encoder layers + causal mask | itself and earlier tokens | GPT, Llama |
# | encoder-decoder | both stacks + cross-attention | source: all; target: earlier | original, T5 |
#
# A GPT block is masked self-attention + feed-forward: exactly an encoder layer given
# the causal mask. The lib builds `EncoderOnlyTransformer` and `DecoderOnlyTransformer`
# from the same `EncoderLayer`. (The lib files a GPT's attention under "decoder_self": its
# blocks play the decoder's role, though each is an `EncoderLayer`.)

# %% slideshow={"slide_type": "subslide"}
ids = vocab.encode_batch(["the pizza came out of the oven"])
bert_like = EncoderOnlyTransformer(config).eval()
gpt_like = DecoderOnlyTransformer(config).eval()
bert_logits = bert_like(ids, need_weights=True)
gpt_logits = gpt_like(ids, need_weights=True)
bert_attention = bert_like.attention_weights()["encoder_self"][0][0, 0].detach()   # layer 0, head 0
gpt_attention = gpt_like.attention_weights()["decoder_self"][0][0, 0].detach()

print("both predict a word at every position:", tuple(bert_logits.shape), tuple(gpt_logits.shape))
assert gpt_attention.triu(1).abs().sum() == 0           # GPT: nothing above the diagonal
assert bert_attention.triu(1).abs().sum() > 0           # BERT: sees later words too

# %% slideshow={"slide_type": "subslide"}
tokens = vocab.tokens(ids[0])
figures.attention_heatmap(bert_attention, tokens,
                          title="Encoder-only (BERT), layer 0, head 0, untrained: every token sees all")

# %% slideshow={"slide_type": "subslide"}
figures.attention_heatmap(gpt_attention, tokens,
                          title="Decoder-only (GPT), layer 0, head 0, untrained: causal self-attention")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: inside the model
#
# Type a source and a target sentence, pick which attention to look at (encoder self,
# decoder self, cross), a layer and a head (or "mean of heads", their average). Both count
# from 0, as Python indexes them:
# layer 0 is `model.encoder.layers[0]` (`model.decoder.layers[0]` for the decoder's self-
# and cross-attention). The table shows the shape at every stage; the row of the
# attention you picked is highlighted.
#
# - **Cross-attention** is the only non-square one: target words down, source words across.
# - **Decoder self-attention** has nothing above the diagonal: the causal mask.
# - Lengthen the source sentence and watch which shapes change, and which do not.
#
# The model is untrained, so the patterns are random; in chapter 08 they take shape.

# %% slideshow={"slide_type": "subslide"}
widgets.ModelExplorer(Transformer(config), vocab,   # the config above: 2 + 2 layers, 4 heads
                      source="the pizza came out of the oven", target="it tasted very good")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
#
# - **Feed-forward**: a two-layer network applied to each token on its own
#   (d<sub>model</sub> → d<sub>ff</sub> → d<sub>model</sub>).
# - **Add & Norm**: `LayerNorm(x + sublayer(x))` around every sublayer (pre-norm:
#   `x + sublayer(LayerNorm(x))`). The residual gives the gradient a direct path through
#   a deep stack; the norm keeps activations at a steady scale. (Without residuals, the
#   gradient's collapse is mostly PyTorch's default initialisation: with He initialisation
#   block 0 gets more than a tenth of block 29's gradient, though it wanders in between, and
#   only as long as every block stays scaled so.)
# - **Encoder layer**: self-attention + feed-forward. **Decoder layer**: masked
#   self-attention + cross-attention to the memory + feed-forward.
# - Stack N of each, embed with √d<sub>model</sub> and positions, project to the vocabulary with
#   the tied embedding matrix: `model(src, trg[:, :-1])` is trained against `trg[:, 1:]`.
# - The same blocks give BERT (encoder-only), GPT (decoder-only) and the original
#   encoder-decoder. The lib's model matches `nn.Transformer`, and the base
#   configuration has about 63M parameters.
#
# Next: **08 Training and generation**, where this model learns and its attention takes
# shape.
