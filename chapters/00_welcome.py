# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 00 · Welcome: Transformers from scratch
#
# Over the next nine chapters you will build a Transformer, the network behind BERT,
# GPT and ChatGPT, out of small pieces you can run, plot and poke at.
#
# No piece is magic. Each one is a few lines of PyTorch, and each chapter adds exactly
# one new idea on top of the last.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## How to use this course
#
# - **Run the cells from top to bottom** (Shift+Enter, or *Run → Run All Cells*). Every
#   chapter starts from scratch, so you can open any chapter on its own.
# - **Play with the widgets.** Boxes, sliders and checkboxes above a figure redraw it at
#   once. Type your own sentences: if something is off, the widget tells you in a line of
#   text instead of crashing.
# - **Try the "your turn" cells.** Twenty of them (listed below), from cosine similarity
#   in 01 to one cached attention step in 09: by the end you have written every piece of
#   the model. A checker runs your function and, when it is wrong, names your mistake
#   precisely: the usual slips by name, anything else by where and how your result
#   differs. A collapsed cell below holds a worked solution: click the `…` to open it,
#   once you have tried.
# - **Change anything.** This notebook is your own copy, in `workspace/`: edit it, save it,
#   break it. `make reset CHAPTER=00` brings back a fresh one, and keeps yours in
#   `workspace/.backups/`.
# - **Present it.** Every cell carries slide metadata (new slide, sub-slide, fragment), so
#   an instructor can show a chapter as slides; the README's notes for instructors say how.

# %% slideshow={"slide_type": "subslide"}
from transformer_course.checks import EXERCISES

by_chapter = {}
for ex in EXERCISES:                                  # every "your turn" cell, in course order
    by_chapter.setdefault(ex.chapter, []).append(ex.name)
for chapter, names in by_chapter.items():
    print(f"{chapter}: {', '.join(names)}")
assert len(EXERCISES) == 20                           # "twenty of them", as the text above says

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Where the code lives
#
# The notebooks stay short because the real implementation lives in a small Python
# package, `lib/transformer_course`, with **one module per idea of a chapter**:
#
# | module | what it holds | chapter |
# | --- | --- | --- |
# | `recurrence` | a tiny RNN, to measure how its gradient fades | 00 |
# | `tokenizer`, `embeddings` | text → tokens → ids (the course vocabulary) → vectors | 01 |
# | `positional` | sinusoidal and learned position encodings | 02 |
# | `attention`, `softmax` | scaled dot-product attention, one head, many heads; safe softmax | 03–05 |
# | `masks` | causal and padding masks | 06 |
# | `layers`, `model` | feed-forward, Add & Norm, the layers, whole models | 07 |
# | `data`, `training`, `generation` | toy tasks, the training loop, writing one token at a time | 08 |
# | `stories`, `lm_training` | the story corpus, training a GPT on it | 09 |
# | `kv_cache`, `pronoun_heads` | the KV cache, finding the heads that resolve pronouns | 09 |
# | `figures`, `widgets`, `checks` | the plots, the live explorers, the exercise checkers | all |

# %% [markdown] slideshow={"slide_type": "subslide"}
# A few smaller modules hold one helper for one chapter (the worked examples of 03, the
# cost timer of 05, the pronoun pointer of 08, and so on); each file's first lines say
# what it is for.
#
# A chapter often rebuilds a piece in plain torch first, then **asserts** that the
# package computes exactly the same thing. When those asserts pass, you know the code
# you read is the code that runs.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check your environment
#
# Run the next two cells. The first prints the versions of the tools the course uses, the
# second shows a small live widget: drag the **factor** slider and the curve should redraw. If you see
# the plot but moving the slider does nothing, the widget extension is not active: start
# JupyterLab with `make lab`.

# %% slideshow={"slide_type": "fragment"}
import platform

import ipywidgets
import plotly
import torch
import transformer_course
from transformer_course import widgets

print(f"python              {platform.python_version()}")
print(f"torch               {torch.__version__}")
print(f"plotly              {plotly.__version__}")
print(f"ipywidgets          {ipywidgets.__version__}")
print(f"transformer_course  {transformer_course.__version__}")
print(f"GPU available       {torch.cuda.is_available()} (not needed: everything runs on a CPU)")

# %% slideshow={"slide_type": "subslide"}
widgets.RepeatedProductExplorer(factor=0.9, steps=50)

# %% [markdown] slideshow={"slide_type": "fragment"}
# What that curve means comes a few cells below, where we ask why the field moved away
# from recurrent networks.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The big picture: three core parts
#
# A Transformer reads a sentence in three steps:
#
# 1. **Word embeddings** turn each token into a vector of numbers, because a neural
#    network can only compute with numbers. *(chapter 01)*
# 2. **Positional encoding** adds to each vector a signature of where the token sits, so
#    that "Squatch eats pizza" and "Pizza eats Squatch" stay different. *(chapter 02)*
# 3. **Attention** lets every token look at every other token (and itself) and mix in
#    what is relevant, so "it" in "the pizza came out of the oven and it tasted good"
#    can pick up the meaning of "pizza". *(chapters 03–06)*

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Completing the block
#
# Two more pieces turn attention into a layer you can stack many times:
#
# - a **feed-forward network**: a small two-layer MLP applied to each token on its own,
#   adding non-linear processing after the tokens have exchanged information;
# - **residual connections + layer normalisation** ("Add & Norm"): each sub-layer adds its
#   result to its input, then normalises. The shortcut lets signals and gradients pass
#   straight through a deep stack, and the normalisation keeps the numbers in a steady range.
#
# Stack that block N times (6 in the original paper) and you have the **encoder**. The
# **decoder**'s blocks differ in two ways: their self-attention is **masked**, so that each
# word sees only itself and the words before it (the decoder writes one word at a time and
# must not peek at the next, chapter 06), and an extra attention step, **cross-attention**, reads
# the encoder's output. *(chapter 07)*

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## The whole model on one page
#
# The encoder (left) reads the source sentence; the decoder (right) writes the target
# one token at a time. The pink boxes and the waves beside them are chapters 01 and 02,
# the orange boxes chapters 03–06 (note the decoder's **masked** self-attention), the blue
# and yellow boxes chapter 07. At the top, the purple box (the output projection,
# chapter 07) turns each of the decoder's vectors into one score per word of the
# vocabulary, and the green softmax (chapter 04) turns those scores into the probability
# of each possible next token. The red arrow carries the encoder's output to every decoder
# layer's cross-attention, where the decoder's queries (Q) meet it as keys and values
# (K, V). By chapter 07 you will have built every box, and checked it against PyTorch's own.

# %% slideshow={"slide_type": "subslide"}
from transformer_course.assets import asset_image

asset_image("transformer.svg", width=960,
            alt="The encoder-decoder Transformer: encoder stack left, decoder stack right")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why not recurrent networks?
#
# Before Transformers, language models were mostly RNNs and LSTMs. They read a sentence
# **one token at a time**, carrying a hidden state from each step to the next. Three
# problems follow from that:
#
# - **Sequential processing**: step 50 cannot start before step 49 has finished, so the
#   work cannot be spread over the thousands of cores of a GPU.
# - **Vanishing or exploding gradients**: training sends the error signal back through
#   every step, multiplying by (roughly) the same factor each time.
# - **Limited context**: information from far back has to survive many of those
#   multiplications, so in practice the model forgets it.
#
# LSTMs (and GRUs) were built against the second problem: **gates** let the state pass a
# step almost unchanged when the network chooses so, and then the gradient along it barely
# shrinks. That softened vanishing gradients a great deal. It did not remove the chain:
# an LSTM still reads one token at a time, and information from far back still has to
# travel through every step in between.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Repeated multiplication, in numbers
#
# Multiply a gradient by 0.9 at each of 50 steps, or by 1.1:

# %% slideshow={"slide_type": "fragment"}
shrink, grow = 0.9**50, 1.1**50
print(f"0.9 ** 50 = {shrink:.4f}    (the signal from 50 tokens back is almost gone)")
print(f"1.1 ** 50 = {grow:.1f}     (or it explodes)")
assert shrink < 0.01 and grow > 100

# %% [markdown] slideshow={"slide_type": "fragment"}
# A factor only 10% away from 1 loses 99.5% of the signal, or multiplies it by more than
# a hundred. That is the curve of the environment check at the top of this chapter: go
# back and move its **factor** close to 1 to see how narrow the safe zone is, then raise
# **steps** to see what a long sentence does.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A real RNN, measured
#
# The factor above is a cartoon. Here is the real thing, measured by PyTorch's autograd
# (the lib's `recurrence` module): a tiny RNN with a state of 16 numbers reads 50 random
# token vectors, one per step, h<sub>t</sub> = tanh(W h<sub>t−1</sub> + U x<sub>t</sub>).
# Back-propagate from its last state and see how much gradient reaches each token. Beside
# it, one self-attention layer reads 50 other random token vectors, drawn the same way
# (with their positions added, as chapter 02 explains), and the gradient starts from its
# last output.

# %% slideshow={"slide_type": "fragment"}
from transformer_course.recurrence import attention_gradients, rnn_gradients

rnn = rnn_gradients(50, scale=1.0)            # (50,): entry k = the token k steps before the last
attention = attention_gradients(50)           # (50,), the same for one self-attention layer
print(f"gradient reaching the token 49 steps back: RNN {rnn[49]:.1e}, attention {attention[49]:.1e}")
print(f"                   the token 1 step back:  RNN {rnn[1]:.1e}, attention {attention[1]:.1e}")
assert 1e-11 * rnn[1] < rnn[49] < 1e-9 * rnn[1]                   # vanished: some 10⁻¹⁰ times token 1's
assert attention[1:].max() < 10 * attention[1:].min()             # attention's: no decay with distance

# What the widget below shows when you move its sliders, checked here once:
small, large = rnn_gradients(50, scale=0.5), rnn_gradients(50, scale=3.0)
assert small[49] < rnn[49] and large[49] > large[1]               # scale 0.5 vanishes faster; 3 explodes
longest = attention_gradients(100)                                # the widget's most tokens
assert longest[1:].max() < 10 * longest[1:].min()                 # attention stays flat there too

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the RNN, the gradient from 49 steps back is some 10⁻¹⁰ times the one from the
# previous token, although W here stretches nothing (it is orthogonal, a rotation or a
# reflection: scale 1) and only tanh's slope, at most 1, shrinks it at each step.
# Attention gives every token, near or far, a gradient of the same order (compare its
# two numbers above): the **path** from the last token to any other is one step long.
# Change the RNN's **scale**: below 1 the gradient vanishes faster; well above 1 it
# explodes instead (try 3). Change **tokens**: the attention line stays flat.

# %% slideshow={"slide_type": "fragment"}
widgets.PathLengthExplorer(length=50, scale=1.0)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What Transformers do instead
#
# A Transformer looks at **all tokens at once**. Attention compares every token with
# every other token in one batch of matrix products, so:
#
# - the whole sentence is processed **in parallel**, which GPUs are built for;
# - the first and the last token are **one step apart**, however long the text, so there
#   is no long chain of multiplications between them.
#
# The price: with no step-by-step reading, the model has no built-in sense of order.
# Chapter 02 gives it one.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three families of Transformer models
#
# The same blocks, assembled three ways:
#
# | family | who sees whom | typical job | examples |
# | --- | --- | --- | --- |
# | **encoder-only** | every token sees every token | understanding: classify, tag, search | BERT |
# | **decoder-only** | each token sees itself and earlier ones | writing text, one token at a time | GPT |
# | **encoder-decoder** | the decoder also attends to the encoder | translation, summaries | original, T5 |
#
# You will build the encoder-decoder of the original paper, and see that switching
# pieces on and off gives the other two.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Map of the course
#
# | chapter | you will |
# | --- | --- |
# | **00 Welcome** | set up, see the big picture (you are here) |
# | **01 Embeddings** | turn text into tokens, ids and learned vectors |
# | **02 Positional encoding** | give the model a sense of word order with sines and cosines |
# | **03 Queries, keys and values** | build three learned views of each token and score every pair |
# | **04 Softmax and scaling** | turn scores into weights safely and mix the values: one attention head |
# | **05 Multi-head attention** | run several heads side by side and measure the cost |
# | **06 Masking** | stop tokens from peeking at the future or at padding |
# | **07 The full Transformer** | add feed-forward and Add & Norm, stack layers, check against PyTorch |
# | **08 Training and generation** | train on a toy task, watch attention form, generate text |
# | **09 A GPT that writes** | train a GPT on stories near the best loss; pronoun heads; a KV cache |

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Recap
#
# - Run cells top to bottom; widgets redraw live; "your turn" cells come with a checker.
# - The implementation lives in `lib/transformer_course`, one module per idea.
# - Core parts: **embeddings**, **positional encoding**, **attention**; a feed-forward
#   network and **Add & Norm** complete each block.
# - RNNs read one token at a time and multiply gradients step after step
#   (0.9⁵⁰ ≈ 0.005, 1.1⁵⁰ ≈ 117; measured in a tiny RNN, the gradient from 49 tokens
#   back is 10⁻¹⁰ times the one from the previous token). LSTM gates soften this, but
#   keep the chain. Transformers see all tokens in parallel: every token is one step from
#   every other.
# - The decoder's self-attention is masked (no peeking at later words) and it adds
#   cross-attention to the encoder's output.
# - Encoder-only (BERT), decoder-only (GPT), encoder-decoder (original, T5).
#
# Next: **01 Embeddings**, where words become vectors.
