# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 08 · Training and generation: the model learns
#
# Chapter 04 made a promise: **queries and keys are not born as attention**. In a fresh
# model W<sub>Q</sub> and W<sub>K</sub> are random, so the attention weights are noise. Training is what
# turns them into something useful.
#
# In this chapter you train Transformers live, on your own CPU, and watch it happen:
#
# 1. a model learns to **reverse** a row of symbols, while its loss curve falls;
# 2. a model learns which noun **"it"** refers to, and you scrub through training to
#    see its attention form;
# 3. the trained model **writes its answer one token at a time**, greedily or by
#    sampling with a temperature;
# 4. a popular from-scratch tutorial's model races the paper's design.

# %% slideshow={"slide_type": "skip"}
import math
import time

import torch
import torch.nn.functional as F
from IPython.display import display
from transformer_course import checks, figures, widgets
from transformer_course.alignment import aligned_share
from transformer_course.data import pronoun_task, sequence_task
from transformer_course.generation import (
    generate,
    greedy_decode,
    next_token_probs,
    seq2seq_accuracy,
    seq2seq_logits_fn,
)
from transformer_course.model import Transformer, TransformerConfig, count_parameters
from transformer_course.pointer import PronounPointer, pointer_loss, referent_wins, resolve, snapshot
from transformer_course.training import learning_rates, seq2seq_loss, split_batch_fn, train

# Small models train much faster on one thread: with two, the threads mostly wait for
# each other (measured: about 5× slower on a busy 2-core machine).
torch.set_num_threads(1)
_ = torch.manual_seed(0)   # the same "random" numbers on every run

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A task small enough for a laptop: reverse a sequence
#
# Real models learn from billions of words on many GPUs. To see learning happen in a
# few seconds we need a task that is tiny but still needs attention: **reverse a row
# of symbols**. Given `3 1 4 1 5` the model must write `5 1 4 1 3`.
#
# To write the first output symbol the model must look at the *last* input symbol, for
# the second at the one before it, and so on: exactly the kind of "where should I look?"
# question that cross-attention answers.

# %% slideshow={"slide_type": "fragment"}
task = sequence_task("reverse", num_symbols=8, min_len=3, max_len=6,
                     num_train=4000, num_test=500, seed=0)
vocab = task.vocab
print("vocabulary:", vocab.itos)
print(f"{len(task.train)} training rows, {len(task.test)} held-out rows (no row in both)")
for i in range(3):
    n = int(task.train.lengths[i])
    print("source", vocab.tokens(task.train.src[i, :n]), "→ target", vocab.tokens(task.train.tgt[i, :n + 2]))

# %% [markdown] slideshow={"slide_type": "fragment"}
# The target is framed by `<bos>` (begin) and `<eos>` (end). The decoder starts from
# `<bos>` and must itself decide when to stop, by writing `<eos>`.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The model: chapter 07's Transformer, made small
#
# One encoder layer, one decoder layer, d<sub>model</sub> = 32 and two heads: about 22 thousand
# parameters, against about 65 million in the paper's base model.

# %% slideshow={"slide_type": "fragment"}
config = TransformerConfig(vocab_size=len(vocab), d_model=32, num_heads=2, num_encoder_layers=1,
                           num_decoder_layers=1, d_ff=64, dropout=0.0, max_len=16)
torch.manual_seed(0)
model = Transformer(config)
print(f"{count_parameters(model):,} parameters")
assert round(count_parameters(model), -3) == 22_000   # "about 22 thousand", above

src = task.encode("1 2 3 4 5").unsqueeze(0)                       # (1, 5)
untrained = greedy_decode(seq2seq_logits_fn(model.eval(), src), torch.tensor([[vocab.bos_id]]),
                          max_new_tokens=7, eos_id=vocab.eos_id)
print("untrained model, reversing 1 2 3 4 5:", vocab.tokens(untrained[0]))
assert untrained.shape[1] == 1 + 7 and vocab.eos_id not in untrained[0]   # never stops by itself
assert (untrained[0, 1:] == vocab.bos_id).all()   # the same token after every prefix: <bos>

# %% [markdown] slideshow={"slide_type": "fragment"}
# Untrained, it writes nonsense: with these random weights, the same token after every
# prefix (`<bos>` here). It never writes `<eos>`, so only the limit of 7 new tokens stops it.
# (`greedy_decode` writes one token at a time, always the likeliest; "Generation: one
# token at a time" builds it.)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### How wrong is it? The loss
#
# Training needs one number that says how wrong the model is: the **cross-entropy
# loss**. The decoder reads the target shifted right by one, `trg[:, :-1]`, and at each
# position must predict the next token, `trg[:, 1:]` (chapter 07). The loss is the
# average of −log(probability the model gave to the right token).
#
# A model that knew nothing and spread its probability evenly over the V tokens would
# score −log(1/V) = log V. An untrained model does worse: its random weights make it
# confidently wrong here and there.

# %% slideshow={"slide_type": "fragment"}
batch = split_batch_fn(task.train)(torch.arange(256))              # (src, tgt) of 256 rows
with torch.no_grad():
    start_loss = seq2seq_loss(model, batch).item()
print(f"loss before training: {start_loss:.2f}   log V = log {len(vocab)} = "
      f"{torch.log(torch.tensor(float(len(vocab)))):.2f}")
assert start_loss > torch.log(torch.tensor(float(len(vocab))))   # worse than a uniform guess

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: the shifted-target loss
#
# Write `my_teacher_forcing_loss(model, src, trg, pad_id)`: `trg` is (B, T), each row
# `<bos> … <eos>` then padding. The decoder reads `trg[:, :-1]` and is scored on the next
# tokens, `trg[:, 1:]` (this is called **teacher forcing**: the decoder always reads the true
# previous tokens, not its own guesses). Return the mean cross-entropy over the positions
# that are not padding, as a tensor (training calls `.backward()` on it).
# `F.cross_entropy(logits, labels, ignore_index=pad_id)` wants logits (N, V) and labels (N,).

# %% slideshow={"slide_type": "fragment"}
def my_teacher_forcing_loss(model, src: torch.Tensor, trg: torch.Tensor, pad_id: int) -> torch.Tensor:
    """src (B, S), trg (B, T) = <bos> … <eos> <pad>… → the mean next-token cross-entropy."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_teacher_forcing_loss(my_teacher_forcing_loss)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def teacher_forcing_loss_solution(model, src: torch.Tensor, trg: torch.Tensor, pad_id: int) -> torch.Tensor:
    """src (B, S), trg (B, T) = <bos> … <eos> <pad>… → the mean next-token cross-entropy."""
    logits = model(src, trg[:, :-1])                    # (B, T-1, V): reads <bos> … the second-last
    labels = trg[:, 1:]                                 # (B, T-1): the token that comes next
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=pad_id)


assert checks.check_teacher_forcing_loss(teacher_forcing_loss_solution).passed
with torch.no_grad():                                   # the lib's loss is the same
    assert abs(teacher_forcing_loss_solution(model, *batch, vocab.pad_id).item() - start_loss) < 1e-5

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The training loop
#
# Training repeats four steps, a few hundred times:
#
# ```python
# optimiser.zero_grad()               # (clear the last batch's gradients first)
# loss = seq2seq_loss(model, batch)   # 1. forward: how wrong on this batch?
# loss.backward()                     # 2. backward: which way should each weight move?
# optimiser.step()                    # 3. move every weight a little downhill
#                                     # 4. next batch
# ```
#
# Back-propagation computes, for every weight (W<sub>Q</sub> and W<sub>K</sub> included), how the loss would
# change if that weight changed. The optimiser (Adam) then nudges each weight the way
# that lowers the loss. `train` in the lib runs this loop, with a progress bar, and
# calls the live curve below every 20 steps.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: one training step
#
# Write `my_train_step(model, optimiser, loss_fn, batch)`: the block above for one batch
# (`zero_grad`, then steps 1–3), with `loss = loss_fn(model, batch)`. Return the loss as a
# plain number (`loss.item()`), so that the loop can plot it without keeping the whole
# computation in memory. The checker runs your step on three batches in a row and compares
# the losses and the weights.

# %% slideshow={"slide_type": "fragment"}
def my_train_step(model, optimiser, loss_fn, batch) -> float:
    """One step of gradient descent on ``batch``; returns the loss before the step, a float."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_train_step(my_train_step)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def train_step_solution(model, optimiser, loss_fn, batch) -> float:
    """One step of gradient descent on ``batch``; returns the loss before the step, a float."""
    optimiser.zero_grad()                               # forget the previous batch's gradients
    loss = loss_fn(model, batch)                        # 1. forward: how wrong?
    loss.backward()                                     # 2. backward: which way should each weight move?
    optimiser.step()                                    # 3. move every weight a little downhill
    return loss.item()


assert checks.check_train_step(train_step_solution).passed

# %% slideshow={"slide_type": "subslide"}
steps = 200
curve = widgets.LiveLossCurve(total_steps=steps, title="Reversing: training loss")
display(curve)

# %% slideshow={"slide_type": "subslide"}
torch.manual_seed(0)
model = Transformer(config)
began = time.perf_counter()
history = train(model, seq2seq_loss, split_batch_fn(task.train), len(task.train), steps=steps,
                batch_size=256, lr=2e-2, warmup=30, decay=True, seed=0,
                callback=curve.update, callback_every=20, description="reverse")
train_seconds = time.perf_counter() - began
print(f"{steps} steps in {train_seconds:.1f} s; loss {history.losses[0]:.2f} → {history.last_loss:.4f}")
assert history.last_loss < 0.05 * history.losses[0]

# %% [markdown] slideshow={"slide_type": "fragment"}
# The loss falls fast at first (the model learns which symbols exist and that `<eos>`
# comes last), then more slowly as it gets the order right. Tick **log scale** on the
# curve to see the late progress, which a linear axis flattens.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Warm-up and decay: the step size changes as training goes
#
# The call above passed `warmup=30, decay=True`: the learning rate, how big a step the
# optimiser takes, is not the same at every step.
#
# - **Warm-up.** The first 30 steps climb from lr/30 to the full lr = 0.02. At the start
#   the weights are random and Adam's running averages of the gradient rest on a handful
#   of batches, so its first updates can point almost anywhere; full-size steps in those
#   directions can throw the model somewhere it struggles to leave. (The paper warms up
#   for 4,000 steps.)
# - **Decay.** After the warm-up the rate glides down along half a cosine to lr/10 at the
#   last step: big steps early, to make progress, small steps late, so the weights settle
#   instead of bouncing around the bottom of the loss. (The paper decays as 1/√step.)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The loop records the rate each step really used:

# %% slideshow={"slide_type": "fragment"}
rates = learning_rates(2e-2, steps, warmup=30, decay=True)       # the schedule, one rate per step
assert all(math.isclose(a, b) for a, b in zip(history.learning_rates, rates))   # what the loop used
assert math.isclose(rates[0], 2e-2 / 30) and math.isclose(max(rates), 2e-2)
assert max(range(steps), key=rates.__getitem__) == 29 and math.isclose(rates[-1], 2e-3, rel_tol=0.01)
print(f"step 1: {rates[0]:.5f}   step 30: {rates[29]:.3f}   step {steps}: {rates[-1]:.4f}")
figures.progress_curve_figure(history.steps, history.learning_rates, percent=False,
                              title="Learning rate of every step: warm-up, then decay",
                              y_title="learning rate")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Did it learn, or memorise? Held-out rows
#
# A low training loss could mean the model memorised its 4000 rows. The real test is
# rows it has **never seen**. For each held-out row the model writes its answer
# greedily (always the most likely next symbol, as "Generation: one token at a time"
# explains further on), and an answer counts only if every symbol is right.

# %% slideshow={"slide_type": "fragment"}
began = time.perf_counter()
accuracy = seq2seq_accuracy(model, task.test, bos_id=vocab.bos_id, eos_id=vocab.eos_id)
print(f"held-out exact-match accuracy: {accuracy:.1%} of {len(task.test)} rows "
      f"(decoded in {time.perf_counter() - began:.2f} s)")
assert accuracy >= 0.99

for text in ["1 2 3 4 5", "7 7 0", "6 5 4 3 2 1"]:
    out = greedy_decode(seq2seq_logits_fn(model, task.encode(text).unsqueeze(0)),
                        torch.tensor([[vocab.bos_id]]), max_new_tokens=8, eos_id=vocab.eos_id)
    print(f"{text:>12}  →  {' '.join(task.decode(out[0]))}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What if the targets are not shifted?
#
# A classic bug: scoring the decoder on the tokens it **reads**, `trg[:, :-1]`, instead of the
# next ones. Under the causal mask each position sees its own token, so it can simply copy
# it. Below, two fresh models trained for 40 steps with `train_step_solution` (the worked
# solution of your `my_train_step`), one with each loss.

# %% slideshow={"slide_type": "fragment"}
def unshifted_loss(model, batch):
    """The bug: the labels are the very tokens the decoder reads."""
    src, trg = batch
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), trg[:, :-1].flatten(), ignore_index=vocab.pad_id)


def short_run(loss_fn, steps=40):
    """A fresh model, ``steps`` steps of Adam; returns its losses and held-out accuracy."""
    torch.manual_seed(0)
    fresh = Transformer(config)
    optimiser = torch.optim.Adam(fresh.parameters(), lr=1e-2)
    rows = torch.Generator().manual_seed(0)
    batch_of = split_batch_fn(task.train)
    losses = [train_step_solution(fresh, optimiser, loss_fn,
                                  batch_of(torch.randint(len(task.train), (128,), generator=rows)))
              for _ in range(steps)]
    accuracy = seq2seq_accuracy(fresh.eval(), task.test, bos_id=vocab.bos_id, eos_id=vocab.eos_id)
    return fresh, torch.tensor(losses), accuracy


# %% slideshow={"slide_type": "subslide"}
runs = {"shifted (right)": short_run(seq2seq_loss), "not shifted (the bug)": short_run(unshifted_loss)}
for name, (trained, losses, run_accuracy) in runs.items():
    out = greedy_decode(seq2seq_logits_fn(trained, task.encode("3 1 4 1 5").unsqueeze(0)),
                        torch.tensor([[vocab.bos_id]]), max_new_tokens=7, eos_id=vocab.eos_id)
    print(f"{name:22s} loss {losses[0]:.2f} → {losses[-1]:.4f}   held-out accuracy {run_accuracy:.0%}   "
          f"3 1 4 1 5 → {' '.join(vocab.tokens(out[0, 1:]))}")
right, bug = runs["shifted (right)"], runs["not shifted (the bug)"]
assert bug[1][-1] < 0.01 and bug[1][-1] < right[1][-1] / 10    # the bug's loss is (nearly) 0 …
assert bug[2] == 0.0 and right[2] > bug[2]                      # … and it never writes a right answer

# %% slideshow={"slide_type": "subslide"}
figures.loss_comparison_figure({name: losses.tolist() for name, (_, losses, _) in runs.items()},
                               title="Training loss: the copying bug looks better")

# %% [markdown] slideshow={"slide_type": "fragment"}
# The buggy loss races to almost 0, far below the right one, and yet the model never writes
# a correct answer: asked to continue `<bos>`, it copies `<bos>` again and again. The right
# run's loss is higher because predicting the NEXT symbol is the real task, and after the
# same 40 steps it already reverses some rows. A loss that looks too good to be true often
# is: check what the model writes.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Where does the decoder read? Cross-attention, head by head
#
# To write its i-th symbol the decoder needs source symbol n−1−i: the first output reads
# the last input, and so on. Its cross-attention (queries from the decoder, keys from the
# encoder's output, chapter 07) can show whether it learned that. Below, the decoder's two
# heads while it writes the answer to `3 1 4 1 5`: one row per symbol written, one column
# per source symbol.

# %% slideshow={"slide_type": "fragment"}
demo_src = task.encode("3 1 4 1 5").unsqueeze(0)                  # (1, 5)
demo_answer = [vocab.bos_id, *vocab.ids(task.answer("3 1 4 1 5")), vocab.eos_id]
with torch.no_grad():
    model(demo_src, torch.tensor([demo_answer[:-1]]), need_weights=True)   # teacher-forced, as in training
demo_cross = model.attention_weights()["cross"][0][0]              # (heads, 6 written, 5 source)
written = [f"writes {vocab.itos[t]}" for t in demo_answer[1:]]
figures.head_grid_figure(demo_cross, written, vocab.tokens(demo_src[0]), columns=2,
                         title="Cross-attention of the trained reverse model, per head")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Both heads trace the **anti-diagonal**: the first symbol written reads the last source
# symbol, the second the one before it, and so on (the last row, which writes `<eos>`,
# reads the start: the row is used up). Neither head is perfectly clean on its own. Over
# all 500 held-out rows, the weight each head puts on exactly the mirrored symbol:

# %% slideshow={"slide_type": "fragment"}
mirrored = aligned_share(model, task.test, "reverse")             # (heads,): weight on symbol n-1-i
even = len(task.test) / float(task.test.lengths.sum())            # what an even spread would give
for head, share in enumerate(mirrored.tolist()):
    print(f"head {head}: {share:.2f} of its weight on the mirrored source symbol (even spread: {even:.2f})")
assert (mirrored > 2 * even).all() and mirrored.mean() > 0.5

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What does "it" mean? Attention learns a pronoun
#
# "The pizza came out of the oven and **it** tasted good." Does "it" mean the pizza or
# the oven? You know at once: ovens do not taste good. Change the end, "… and **it** was
# broken", and "it" becomes the oven. **The words after "it" decide.**
#
# Our corpus is made of such sentences: two nouns from different groups (food; household
# things such as ovens, tables and boxes; animals; vehicles) and a predicate that, in this
# corpus, goes with only one of the two groups: food tastes good or is eaten, household
# things are broken or painted, animals are hungry, vehicles are late. The corpus decides,
# not the world: a train can be broken too, but here "was broken" always means a
# household thing. The noun "it" means is the **referent**; the other noun is the
# **distractor**.

# %% slideshow={"slide_type": "fragment"}
pt = pronoun_task(num_train=2000, num_test=300, seed=0)
for i in range(4):
    words = pt.tokens(pt.test, i)
    ref, other = int(pt.test.referent_pos[i]), int(pt.test.distractor_pos[i])
    print(f"{pt.test.sentences[i]:<52}  it = {words[ref]} (not {words[other]})")
print(f"{len(pt.train)} training and {len(pt.test)} held-out sentences, none in both")
first = (pt.test.referent_pos < pt.test.distractor_pos).float().mean()
print(f"the referent is the first noun in {first:.0%} of held-out sentences: position alone cannot tell")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A model that points
#
# The model is an encoder (one layer, two heads: every word sees every other word) and
# then **one more attention head** whose query comes from the position of "it". Its
# attention weights over the sentence are the answer: a probability for each word.
#
# In the bars below, green marks the referent and orange the distractor.
#
# Training pushes up the weight on the true referent (cross-entropy again). Nothing
# tells the model which words are food or what "tasted" means: it must discover that
# from the examples.

# %% slideshow={"slide_type": "subslide"}
pronoun_config = TransformerConfig(vocab_size=len(pt.vocab), d_model=32, num_heads=2,
                                   num_encoder_layers=1, num_decoder_layers=1, d_ff=64,
                                   dropout=0.0, max_len=16)   # the pointer uses no decoder layer
torch.manual_seed(0)
pointer = PronounPointer(pronoun_config)
sentence = "the pizza came out of the oven and it tasted good".split()
ids = torch.tensor(pt.vocab.ids(sentence))
before = resolve(pointer.eval(), ids, sentence.index("it"))
wins_before = referent_wins(pointer, pt.test).float().mean().item()
print(f"untrained: pizza {before[1]:.2f}, oven {before[6]:.2f}; referent wins in {wins_before:.0%} "
      "of held-out sentences (a coin flip)")
figures.pointer_figure(before, sentence, referent=1, distractor=6, source=8,
                       title="Before training: attention from \"it\"")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Train, and keep snapshots
#
# While it trains, the loop stops at chosen steps and records the attention on a few
# held-out sentences, plus the share of held-out sentences where "it" gives more weight
# to the referent than to the distractor.

# %% slideshow={"slide_type": "fragment"}
shown = pt.test[:8]                                      # the sentences the explorer shows
snapshot_steps = [0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100]
began = time.perf_counter()
pointer_history = train(pointer, pointer_loss, lambda idx: pt.train[idx], len(pt.train), steps=100,
                        batch_size=128, lr=1e-2, seed=0, description="pronoun",
                        snapshot_fn=lambda m: snapshot(m, shown, pt.test), snapshot_steps=snapshot_steps)
pointer_seconds = time.perf_counter() - began
wins = referent_wins(pointer, pt.test).float().mean().item()
print(f"100 steps in {pointer_seconds:.1f} s; loss {pointer_history.losses[0]:.2f} → "
      f"{pointer_history.last_loss:.1e}")
print(f"pointer head (the one head on top of the encoder, query at \"it\"): the referent "
      f"outweighs the distractor in {wins:.1%} of {len(pt.test)} held-out sentences")
assert wins >= 0.9 and wins_before < 0.75

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What was trained, and what emerged
#
# Be careful about what this shows. The pointer head's weights **are** the model's
# answer, and the loss pays it for putting weight on the referent: "it" → "pizza" is
# trained directly. It could not fail to appear.
#
# What nobody asked for is how the encoder makes that possible. To tell "tasted good"
# from "was broken", the vector of "it" must first collect the words **after** it, the
# predicate.

# %% [markdown] slideshow={"slide_type": "subslide"}
# At every snapshot the loop measured, for each of the encoder's two heads, the share of the
# weight in the row of "it" that lands on those words (held-out sentences):

# %% slideshow={"slide_type": "fragment"}
seen_steps = sorted(pointer_history.snapshots)
predicate = torch.stack([pointer_history.snapshots[s]["predicate"] for s in seen_steps])   # (steps, heads)
for step_i, row in zip(seen_steps, predicate):
    print(f"step {step_i:3d}: " + "   ".join(f"head {h} {float(v):4.0%}" for h, v in enumerate(row))
          + f"   mean {float(row.mean()):4.0%}")
start, end = predicate[0], predicate[-1]
job_head = int(end.argmax())
assert end[job_head] > 0.6 and end[job_head] > 3 * start[job_head]   # one head moves onto the predicate
assert end.mean() > 2 * start.mean()                                # the mean rises less
assert end.max() - end.min() > 0.3                                  # because the heads differ

# %% slideshow={"slide_type": "subslide"}
figures.progress_curves_figure(
    seen_steps, {**{f"head {h}": predicate[:, h].tolist() for h in range(predicate.shape[1])},
                 "mean of the heads": predicate.mean(dim=1).tolist()},
    title="Share of \"it\"'s encoder attention on the words after it (held-out)",
    y_title="% of the row's weight")

# %% [markdown] slideshow={"slide_type": "fragment"}
# At the start both heads give the predicate about as much as any other words. Then
# **one head** takes the job and moves most of the row of "it" onto the predicate, while
# the other keeps looking elsewhere. The mean over the two heads, what
# `nn.MultiheadAttention` would report by default, rises far less and hides that one head
# did the work.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Here is the trained encoder, head by head, on the pizza sentence: look at the row of "it".

# %% slideshow={"slide_type": "fragment"}
with torch.no_grad():
    pointer(ids.unsqueeze(0), torch.tensor([8]), need_weights=True)
encoder_heads = pointer.encoder_attention()[0][0]                     # (heads, 11, 11)
grid = figures.head_grid_figure(encoder_heads, sentence, columns=2, marks={job_head: "predicate"},
                                title="The trained encoder, head by head (look at the row of \"it\")")
for left in (0, len(sentence) + 1):                                # the row of "it" in each head's panel
    grid.add_shape(type="rect", x0=left - 0.5, x1=left + len(sentence) - 0.5, y0=7.5, y1=8.5,
                   line=dict(color=figures.CHOSEN_COLOUR, width=3))
grid

# %% slideshow={"slide_type": "subslide"}
after = resolve(pointer, ids, 8)
assert after[1] > after[6]                               # pizza, not oven
broken = "the pizza came out of the oven and it was broken".split()
after_broken = resolve(pointer, torch.tensor(pt.vocab.ids(broken)), 8)
assert after_broken[6] > after_broken[1]                 # now the oven
print(f"'... it tasted good': pizza {after[1]:.2f}, oven {after[6]:.2f}")
print(f"'... it was broken':  pizza {after_broken[1]:.2f}, oven {after_broken[6]:.2f}")
figures.pointer_figure(after, sentence, referent=1, distractor=6, source=8,
                       title="After training: attention from \"it\"")

# %% [markdown] slideshow={"slide_type": "fragment"}
# The same two nouns, and only the last words changed: the attention from "it" moved
# from the pizza to the oven. The query of "it" must therefore carry what comes after
# it. That is the encoder's job: its self-attention lets "it" read "tasted" or "broken"
# before the pointer head asks its question.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: watch the attention form
#
# The explorer opens at step 100, the trained model. Drag **step** back to 0, then
# forward again, to watch the attention form.
#
# - **Pointer head**: the attention from "it" (green = the referent, orange = the
#   other noun). At step 0 it is flat noise; within a few dozen steps it locks onto
#   the referent.
# - **Encoder layer 0**: the encoder's self-attention (its only layer, counted from 0
#   like the heads), head by head. Look at the row of "it": in one head it moves onto
#   the predicate, the words that decide.
# - **On the words after "it"**: that movement, per head, over the training steps
#   (the line marks the step shown).
# - **Held-out: referent wins**: the share of unseen sentences resolved correctly.
#
# Pick other sentences in the menu.

# %% slideshow={"slide_type": "subslide"}
history_explorer = widgets.AttentionHistoryExplorer(
    pointer_history.snapshots, [pt.tokens(shown, i) for i in range(len(shown))],
    shown.it_pos.tolist(), shown.referent_pos.tolist(), shown.distractor_pos.tolist())
history_explorer.controls["step"].value = 100
history_explorer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Generation: one token at a time
#
# How did the reversing model write its answers? A decoder does not output a sentence
# at once. It outputs **one distribution**: scores for every token as the next one.
# To write a sentence you loop:
#
# 1. run the model on the tokens so far (at first just `<bos>`);
# 2. take the scores at the **last** position and turn them into probabilities;
# 3. choose a token and **append** it: it is now part of the history;
# 4. stop at `<eos>` or after a maximum length.
#
# The lib wraps the model as a **logits function**: prefix (B, t) → logits (B, t, V).

# %% slideshow={"slide_type": "subslide"}
src = task.encode("3 1 4 1 5").unsqueeze(0)
logits_fn = seq2seq_logits_fn(model, src)
prefix = torch.tensor([[vocab.bos_id]])
with torch.no_grad():
    for step in range(7):
        logits = logits_fn(prefix)                              # (1, t, V)
        probs = torch.softmax(logits[0, -1], dim=-1)            # the last position: next token
        token = probs.argmax()                                  # greedy: the most likely one
        prefix = torch.cat([prefix, token.view(1, 1)], dim=1)   # append: history for the next step
        print(f"step {step + 1}: {vocab.itos[int(token)]!r:7} (p = {probs[token]:.2f})")
        if token == vocab.eos_id:
            break
assert task.decode(prefix[0]) == task.answer("3 1 4 1 5")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The causal mask makes the history stable
#
# In training, the decoder saw whole targets at once, with the **causal mask** hiding
# every later token (chapter 06). So the scores at position i depend only on tokens
# 0 … i. When we append a token and run the model again, the earlier rows come out
# exactly as before: only the last row is new. (Fast implementations keep the earlier
# keys and values in a cache instead of recomputing them.)

# %% slideshow={"slide_type": "fragment"}
with torch.no_grad():
    longer = logits_fn(prefix)                                   # every token written
    shorter = logits_fn(prefix[:, :3])                           # only the first three
assert torch.allclose(longer[:, :3], shorter, atol=1e-5)
print("rows 0-2 are identical with or without the later tokens: no peeking at the future")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: greedy decoding
#
# Write `my_greedy_decode(logits_fn, prompt, max_new_tokens, eos_id)`:
#
# - `prompt` is a 1-D tensor of ids, e.g. `tensor([bos])`;
# - `logits_fn(prefix)` takes a (1, t) tensor and returns logits (1, t, V);
# - at each step take the argmax of the **last** position's scores, append it, and stop
#   after writing `eos_id` (keep it) or after `max_new_tokens` new tokens;
# - return the prompt followed by the new tokens, a 1-D tensor.
#
# The checker runs it on a small fake model and tells you what went wrong.

# %% slideshow={"slide_type": "fragment"}
def my_greedy_decode(logits_fn, prompt: torch.Tensor, max_new_tokens: int, eos_id: int) -> torch.Tensor:
    """Greedy decoding of one sequence: prompt (t0,) → prompt + new ids, (t0 + n,)."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_greedy_decode(my_greedy_decode)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def greedy_decode_solution(logits_fn, prompt: torch.Tensor, max_new_tokens: int, eos_id: int) -> torch.Tensor:
    """Greedy decoding of one sequence: prompt (t0,) → prompt + new ids, (t0 + n,)."""
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        logits = logits_fn(ids.unsqueeze(0))              # (1, t, V): the whole history
        token = logits[0, -1].argmax(dim=-1)              # last position, over the vocabulary
        ids = torch.cat([ids, token.view(1)])             # append it
        if int(token) == eos_id:
            break
    return ids


assert checks.check_greedy_decode(greedy_decode_solution).passed
with torch.no_grad():                                       # it also drives the trained model
    mine = greedy_decode_solution(logits_fn, torch.tensor([vocab.bos_id]), 8, vocab.eos_id)
assert torch.equal(mine, prefix[0])                         # the loop above wrote the same

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Greedy or sampled? Temperature
#
# **Greedy** always takes the most likely token: the same input always gives the same
# output. Good for a task with one right answer, like ours. For stories or chat that is
# dull, so language models usually **sample**: draw the next token at random, with the
# model's probabilities.
#
# Before sampling, the scores are divided by a **temperature** T:
#
# - T < 1 sharpens the distribution (more like greedy; T → 0 *is* greedy);
# - T > 1 flattens it (more surprising, more mistakes);
# - **top-k** keeps only the k most likely tokens and gives the rest probability 0.

# %% slideshow={"slide_type": "fragment"}
with torch.no_grad():
    first_logits = logits_fn(torch.tensor([[vocab.bos_id]]))[0, -1]    # what comes after <bos>?
for temperature in (0.5, 1.0, 2.0, 5.0):
    p = next_token_probs(first_logits, temperature=temperature)
    print(f"T = {temperature:3}: p('5') = {p[vocab.stoi['5']]:.4f}, largest other = "
          f"{p.topk(2).values[1]:.1e}")
cold = next_token_probs(first_logits, temperature=0.5)
hot = next_token_probs(first_logits, temperature=5.0)
assert cold.max() > hot.max()
assert torch.equal(next_token_probs(first_logits, temperature=0.0).argmax(), first_logits.argmax())

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Your turn: sampling with a temperature and top-k
#
# Write `my_sample_next_token(logits, temperature, top_k)`: `logits` is (B, V), one row of
# next-token scores per sequence; `temperature` > 0; `top_k` is None (keep every token) or
# a number from 1 to V. Divide by the temperature, keep the `top_k` largest logits (set the
# others to −∞), softmax, and draw one token per row with `torch.multinomial`. Return the
# ids, shape (B,). The checker draws thousands of times and compares how often each token
# comes out with how often it should.

# %% slideshow={"slide_type": "fragment"}
def my_sample_next_token(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """logits (B, V) → one sampled token id per row, (B,)."""
    raise NotImplementedError


# %% slideshow={"slide_type": "fragment"}
checks.check_sample_next_token(my_sample_next_token)

# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"} tags=["solution"]
def sample_next_token_solution(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """logits (B, V) → one sampled token id per row, (B,)."""
    logits = logits / temperature                       # T < 1 sharpens, T > 1 flattens
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1): each row's k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))   # the rest: probability 0
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1).squeeze(-1)     # (B, 1) → (B,)


assert checks.check_sample_next_token(sample_next_token_solution).passed
draws = sample_next_token_solution(first_logits.expand(5000, -1), 5.0, 3)   # 5000 draws after <bos>
seen = torch.bincount(draws, minlength=len(vocab)) / 5000
assert (seen - next_token_probs(first_logits, temperature=5.0, top_k=3)).abs().max() < 0.03
assert (seen > 0).sum() == 3                                                 # only the top 3 ever come out

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Sampling, reproducibly
#
# A random draw with a fixed **seed** is reproducible: the same seed gives the same
# "random" answer. At T = 3 the model's confident distribution gets flat enough for
# wrong symbols to be drawn now and then, even `<unk>`, which no training target holds:
# softmax leaves every token some probability, and dividing the scores by 3 lifts even
# the smallest ones enough to be drawn.

# %% slideshow={"slide_type": "fragment"}
greedy = generate(logits_fn, torch.tensor([vocab.bos_id]), max_new_tokens=8, eos_id=vocab.eos_id)
print("greedy        :", " ".join(task.decode(greedy.ids)))
for seed in range(4):
    sampled = generate(logits_fn, torch.tensor([vocab.bos_id]), max_new_tokens=8, strategy="sample",
                       temperature=3.0, eos_id=vocab.eos_id, seed=seed)
    print(f"sample seed {seed}:", " ".join(task.decode(sampled.ids)))
again = generate(logits_fn, torch.tensor([vocab.bos_id]), max_new_tokens=8, strategy="sample",
                 temperature=3.0, eos_id=vocab.eos_id, seed=3)
assert torch.equal(again.ids, sampled.ids)                         # same seed, same draw
unk_targets = int((task.train.tgt == vocab.unk_id).sum())          # how often <unk> is a target
p_unk = [float(next_token_probs(first_logits, temperature=t)[vocab.unk_id]) for t in (1.0, 3.0)]
print(f"<unk>: {unk_targets} times a target; p after <bos> {p_unk[0]:.1e} at T = 1, {p_unk[1]:.1e} at T = 3")
assert unk_targets == 0 and 0 < p_unk[0] < p_unk[1]
almost_greedy = generate(logits_fn, torch.tensor([vocab.bos_id]), max_new_tokens=8, strategy="sample",
                         temperature=1e-3, eos_id=vocab.eos_id, seed=0)
assert torch.equal(almost_greedy.ids, greedy.ids)                  # T → 0: greedy

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Every step of one generation
#
# `generate` keeps a trace: at each step, the tokens so far, the distribution and the
# token chosen. One row per step below; the ring marks the chosen token.

# %% slideshow={"slide_type": "fragment"}
trace = generate(logits_fn, torch.tensor([vocab.bos_id]), max_new_tokens=8, strategy="sample",
                 temperature=2.0, eos_id=vocab.eos_id, seed=1)
chosen = [s.chosen for s in trace.steps]
row_labels = [f"{i + 1}: {vocab.itos[c]}" for i, c in enumerate(chosen)]
figures.generation_figure(trace.probs(), row_labels, vocab.itos, chosen, title="Sampling 3 1 4 1 5 at T = 2")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Outside the lengths it was trained on
#
# Every training row had 3 to 6 symbols. A row of 2 or of 7 is something the model has
# never seen: nothing taught it to stop after 2 symbols, or to read a 7th position.

# %% slideshow={"slide_type": "fragment"}
for n in (2, 7):
    unseen = sequence_task("reverse", num_symbols=8, min_len=n, max_len=n, num_train=1, num_test=30, seed=1)
    assert unseen.vocab.itos == vocab.itos                          # the same symbols, the same ids
    right = seq2seq_accuracy(model, unseen.test, bos_id=vocab.bos_id, eos_id=vocab.eos_id)
    print(f"rows of {n} symbols: {right:.0%} of 30 right")
    assert right < 0.5
out = greedy_decode(seq2seq_logits_fn(model, task.encode("1 2").unsqueeze(0)),
                    torch.tensor([[vocab.bos_id]]), max_new_tokens=8, eos_id=vocab.eos_id)
print("1 2  →", " ".join(task.decode(out[0])))

# %% [markdown] slideshow={"slide_type": "fragment"}
# High accuracy on held-out rows means: on new rows **like the training rows**. The
# model learned "reverse rows of 3 to 6 symbols", not "reverse". The explorer below says
# so when you type a row outside that range.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: generation
#
# Type a source row (symbols 0-7; the model was trained on rows of 3 to 6, and the
# explorer tells you when you leave that range) and watch the reversing model answer.
#
# - With **greedy**, the temperature slider changes nothing: greedy ignores it.
# - Switch to **sample** and raise the **temperature**: the distributions flatten and
#   mistakes appear. Lower it towards 0: the sample becomes the greedy answer.
# - **top-k** = 2 allows only the two best tokens at each step.
# - **seed** gives another random draw; **step** picks the step the bars show.

# %% slideshow={"slide_type": "subslide"}
widgets.GenerationExplorer(model, task, text="3 1 4 1 5")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A from-scratch implementation you may meet
#
# Chapter 05 took apart the `SelfAttention` of a popular tutorial, "Transformer from
# scratch in PyTorch" (Aladdin Persson's code), and found two differences from the
# paper: **(a)** one small `head_dim × head_dim` projection shared by all heads, each head
# reading only its own slice of every vector, and **(b)** energies divided by
# √embed_size instead of √head_dim. The rest of that tutorial is rebuilt in
# `transformer_course.from_scratch` with its names too: `TransformerBlock`, `Encoder`
# (word + learned position embeddings), `DecoderBlock`, `Decoder`, and `Transformer`
# with its `make_src_mask` and `make_trg_mask`. It trains with `model(src, trg[:, :-1])`,
# which is exactly what `seq2seq_loss` calls, so the same loop trains it.
#
# Do the two differences matter? A short race on the reversing task: the tutorial's
# model, each fix on its own, both fixes, and the lib's model. All have this chapter's
# size and see the same batches in the same order for the same 80 steps.

# %% slideshow={"slide_type": "subslide"}
from transformer_course import from_scratch

designs = {
    "tutorial: shared W, ÷√embed_size": from_scratch.SOURCE,
    "(a) fixed: full W": from_scratch.AttentionDesign(shared_projections=False, scale="embed_size"),
    "(b) fixed: ÷√head_dim": from_scratch.AttentionDesign(shared_projections=True, scale="head_dim"),
    "both fixed (the paper)": from_scratch.PAPER,
}


def scratch_model(design):
    """The tutorial's Transformer at this chapter's size: d_model 32, 2 heads, 1 + 1 layers."""
    return from_scratch.Transformer(
        len(vocab), len(vocab), vocab.pad_id, vocab.pad_id, embed_size=config.d_model, num_layers=1,
        forward_expansion=config.d_ff // config.d_model, heads=config.num_heads,
        max_length=config.max_len, design=design)


# %% slideshow={"slide_type": "subslide"}
test_src, test_tgt = split_batch_fn(task.test)(torch.arange(len(task.test)))
test_in, scored = test_tgt[:, :-1], test_tgt[:, 1:] != vocab.pad_id   # decoder input; real targets


def cross_sharpness(m):
    """Largest cross-attention weight per target position, averaged over heads and held-out rows."""
    with torch.no_grad():
        if isinstance(m, Transformer):
            m(test_src, test_in, need_weights=True)
        else:
            m(test_src, test_in)                                 # the tutorial's model always keeps them
    weights = m.attention_weights()["cross"][0]                  # (N, heads, trg_len, src_len)
    return weights.amax(dim=-1).mean(dim=1)[scored].mean().item()


# %% slideshow={"slide_type": "subslide"}
contestants = {}
for name, design in designs.items():
    torch.manual_seed(0)
    contestants[name] = scratch_model(design)
torch.manual_seed(0)
contestants["lib's Transformer"] = Transformer(config)

race = dict(steps=80, batch_size=128, lr=2e-2, warmup=15, decay=True, seed=0, progress=False)
results = {}
began = time.perf_counter()
for name, m in contestants.items():
    sharp_before = cross_sharpness(m)
    run = train(m, seq2seq_loss, split_batch_fn(task.train), len(task.train), **race)
    curve = run.smoothed(10)                                     # running mean over 10 steps
    results[name] = dict(
        weights=count_parameters(m),
        under_half=next((s for s, loss in zip(run.steps, curve) if loss < 0.5), None),
        final=sum(run.losses[-10:]) / 10,
        accuracy=seq2seq_accuracy(m, task.test, bos_id=vocab.bos_id, eos_id=vocab.eos_id),
        sharpness=(sharp_before, cross_sharpness(m)),
        curve=curve,
    )

# %% slideshow={"slide_type": "subslide"}
print(f"5 models × 80 steps in {time.perf_counter() - began:.1f} s\n")
print(f"{'':32} {'params':>7} {'loss < 0.5':>10} {'final loss':>10} {'held-out':>8}  "
      "cross max: before → after")
for name, r in results.items():
    when = f"step {r['under_half']}" if r["under_half"] else "not yet"
    print(f"{name:32} {r['weights']:>7,} {when:>10} {r['final']:>10.3f} "
          f"{r['accuracy']:>8.1%}  {r['sharpness'][0]:.2f} → {r['sharpness'][1]:.2f}")

# %% slideshow={"slide_type": "subslide"}
tutorial, full_w, head_dim_scale, paper, lib_run = results.values()
for fix, r in (("(a) full W", full_w), ("(b) ÷√head_dim", head_dim_scale)):
    print(f"{fix:15} against the tutorial: loss < 0.5 {tutorial['under_half'] - r['under_half']:d} steps "
          f"sooner, final loss ÷ {tutorial['final'] / r['final']:.1f}, held-out "
          f"{r['accuracy'] - tutorial['accuracy']:+.1%}")
assert full_w["final"] < 0.5 * tutorial["final"] and full_w["under_half"] < tutorial["under_half"]
assert full_w["sharpness"][1] > tutorial["sharpness"][1] + 0.05
assert abs(head_dim_scale["accuracy"] - tutorial["accuracy"]) < 0.03
assert abs(head_dim_scale["under_half"] - tutorial["under_half"]) <= 5
assert paper["accuracy"] >= tutorial["accuracy"] > lib_run["accuracy"]

# %% slideshow={"slide_type": "subslide"}
figures.loss_comparison_figure({name: r["curve"] for name, r in results.items()},
                               title="Reversing, 80 steps: running mean of the loss over 10 steps")

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the race shows:
#
# - **(a) The shared projection costs.** A full projection for every head (3·32² = 3,072
#   numbers in W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub> per attention layer instead of
#   3·16² = 768) brings the loss under 0.5 sooner, ends the race with a loss about three
#   times lower, and attends more sharply: the largest cross-attention weight per row starts near a quarter (a
#   fresh model spreads over the 3 to 6 source symbols) and climbs higher. To reverse,
#   output position t must find one source position; a head that reads half of each
#   vector, through a matrix it shares with the other head, finds it more slowly.
# - **(b) √embed_size makes little difference here.** With 2 heads it divides the scores
#   by only √2 ≈ 1.4 more than the paper does: the weights start a little flatter, and
#   training soon learns the missing factor (chapter 05: W<sub>Q</sub> × √heads undoes it).
#   The fix's small edge here is within the noise: with other seeds, tried when this section was
#   written, it sometimes goes the other way, while (a)'s never did. It
#   would matter more with more heads (√8 ≈ 2.8 at the tutorial's default of 8, where
#   chapter 05 found fresh rows almost uniform) and in deeper stacks, where every layer
#   starts flat and must sharpen before the layers above it can use it.

# %% [markdown] slideshow={"slide_type": "subslide"}
# The race also shows:
#
# - **The lib's model is the slowest starter**, though with both fixes the tutorial's
#   blocks compute exactly what lib's do (checked below). The difference lies around the
#   blocks: the lib ties the input and output embeddings into one matrix, adds fixed
#   sinusoids rather than learned positions, initialises its matrices differently and
#   ends each stack with a LayerNorm. With the chapter's full budget (200 steps of 256
#   rows) it reached ≥ 99% above, and, measured the same way when this section was
#   written, all four tutorial variants reach 100%. On this task the deviations change
#   how fast a model learns, not where it ends up.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Both fixed: the tutorial's model is `nn.Transformer`
#
# PyTorch's `nn.Transformer` holds the two stacks only. The tutorial's stacks end
# without a LayerNorm, so we remove PyTorch's final ones. Copy its weights into the
# tutorial's model with both fixes and into a lib model configured the same way
# (`final_norm=False`; chapter 07 checked the lib against `nn.Transformer`), give the
# tutorial's model the lib model's embeddings and output layer, and both give the same
# logits on every held-out row.

# %% slideshow={"slide_type": "fragment"}
from torch import nn

core = nn.Transformer(d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                      dim_feedforward=64, dropout=0.0, batch_first=True).eval()
core.encoder.norm = core.decoder.norm = None                     # as in the tutorial
lib_twin = Transformer(config.replace(final_norm=False)).load_from_torch(core).eval()
paper_twin = scratch_model(from_scratch.PAPER).load_from_torch(core).load_embeddings_from(lib_twin).eval()
with torch.no_grad():
    gap = (paper_twin(test_src, test_in) - lib_twin(test_src, test_in))[test_in != vocab.pad_id]
print(f"largest difference in the logits over {len(task.test)} held-out rows: {gap.abs().max():.1e}")
assert gap.abs().max() < 1e-5

# %% [markdown] slideshow={"slide_type": "fragment"}
# So when you meet that tutorial: its model trains, and learns this task, but its
# attention is not quite the paper's. Project the whole vector with
# `nn.Linear(embed_size, embed_size)` before cutting it into heads, divide by
# √head_dim, and it is.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Recap
#
# - Training repeats: forward pass → **loss** (cross-entropy on the next token) →
#   **backward** → optimiser step. A small Transformer learns to reverse sequences on a
#   CPU in seconds, and gets held-out rows right, not only memorised ones.
# - **Warm-up** keeps the first, least reliable updates small; **decay** makes the last
#   ones small so the weights settle.
# - Trained attention is readable: the reverse model's cross-attention traces the
#   anti-diagonal, each head putting about half or more of its weight on the mirrored
#   symbol. But it learned the lengths it saw (3 to 6), not reversing in general.
# - **Q and K are not born as attention**: untrained, the attention from "it" was flat;
#   after training the pointer picks the right noun. That pointer was **trained
#   directly** (its weights are its output). What **emerged** on its own is in the
#   encoder: one of its two heads moved the row of "it" onto the words after it, the
#   predicate that decides; a mean over heads hides it.
# - A decoder **generates one token at a time**: run on the history, read the last
#   position, choose, append, repeat until `<eos>`. The causal mask keeps earlier
#   positions unchanged as the text grows.
# - **Greedy** takes the most likely token; **sampling** draws one. **Temperature**
#   sharpens (T < 1) or flattens (T > 1) the distribution; **top-k** cuts the tail; a
#   **seed** makes a draw reproducible.
#
# Next: **09 A GPT that writes**, where a decoder-only model learns a whole world of
# stories, gets within a hair of the best loss possible, and writes its own, fast, with a
# KV cache.
