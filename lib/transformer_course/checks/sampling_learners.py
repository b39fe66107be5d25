"""The wrong answers learners write for ``sampling``, as code: each Mistake's example.

A sampler with one switch per mistake (``by_hand``), Categorical and the Gumbel-max trick as
correct answers, then top-k thresholds taken the wrong way. The example that calls the worked
solution stays in ``sampling``, which imports this module (this one imports nothing of it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def by_hand(
    logits,
    temperature,
    top_k,
    *,
    temp="divide",
    keep=0,
    fill=float("-inf"),
    pick="sample",
    index="vocab",
    shape="flat",
):
    """A learner's sampler with one switch per catalogued mistake (all off: correct)."""
    if temp == "divide":
        logits = logits / temperature
    elif temp == "multiply":
        logits = logits * temperature
    if top_k is not None and index == "vocab":
        kth = torch.topk(logits, top_k + keep, dim=-1).values[:, -1].unsqueeze(-1)
        logits = torch.where(logits >= kth, logits, torch.full_like(logits, fill))
    probs = F.softmax(logits, dim=-1)
    if temp == "after":
        probs = probs / temperature  # multinomial renormalises: no effect at all
    if top_k is not None and index == "position":
        probs = torch.softmax(logits.topk(top_k, dim=-1).values, dim=-1)  # ids 0 … k-1: positions!
    ids = probs.argmax(dim=-1, keepdim=True) if pick == "argmax" else torch.multinomial(probs, 1)
    if shape == "probs":
        return probs
    return ids if shape == "column" else ids.squeeze(-1)


# --- Other correct answers ---


def with_categorical(logits, temperature, top_k):
    scaled = logits / temperature
    if top_k is not None:
        top = scaled.topk(top_k, dim=-1)
        choice = torch.distributions.Categorical(logits=top.values).sample()  # position in the top k
        return top.indices.gather(-1, choice.unsqueeze(-1)).squeeze(-1)  # → the token's id
    return torch.distributions.Categorical(logits=scaled).sample()


def gumbel_max(logits, temperature, top_k):
    """argmax(logits/T + Gumbel noise) is a draw from softmax(logits/T)."""
    scaled = (logits / temperature).double()
    if top_k is not None:
        cut = scaled.sort(dim=-1, descending=True).values[:, top_k - 1 : top_k]
        scaled = scaled.masked_fill(scaled < cut, -math.inf)
    gumbel = -torch.log(-torch.log(torch.rand_like(scaled)))
    return (scaled + gumbel).argmax(dim=-1)


# --- The wrong answers, each a Mistake's example ---


def keeps_no_axis(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1]  # (B,): no axis left to broadcast over V
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1)


def forgets_none(logits, temperature, top_k):
    logits = logits / temperature
    kth = logits.topk(top_k, dim=-1).values[:, -1:]  # top_k may be None
    logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1)


def compares_with_the_largest(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, :1]  # the first of the top k: the largest
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1)


def picks_any_of_the_top_k(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is None:
        return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1)
    top = logits.topk(top_k, dim=-1).indices  # (B, k)
    return top.gather(-1, torch.randint(0, top_k, (logits.shape[0], 1))).squeeze(-1)


def categorical_of_logits(logits, temperature, top_k):
    scaled = logits / temperature
    if top_k is not None:
        scaled = scaled.masked_fill(scaled < scaled.topk(top_k, dim=-1).values[:, -1:], float("-inf"))
    return torch.distributions.Categorical(scaled).sample()  # the first parameter is probs


def takes_the_item(logits, temperature, top_k):
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1).item()  # "the id of the token drawn"


def thresholds_the_whole_batch(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = logits.flatten().topk(top_k).values[-1]  # one k-th largest for the whole batch
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1)


# --- The wrong answers met in the ninth audit (sampling_more) ---


def reads_the_last_rows_values(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        values, _ = torch.topk(logits, top_k)
        logits[logits < values[-1]] = -float("inf")  # values[-1]: nanoGPT writes v[:, [-1]]
    return torch.multinomial(F.softmax(logits, dim=-1), num_samples=1).view(-1)


def indexes_the_kth_at_k(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, top_k].unsqueeze(-1)  # "the k-th one"
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1).squeeze(-1)


# --- The wrong answers met in the tenth audit (sampling_more) ---


def softmax_down_the_batch(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        logits = logits.masked_fill(logits < logits.topk(top_k, dim=-1).values[:, -1:], float("-inf"))
    return torch.multinomial(F.softmax(logits, dim=0), 1).squeeze(-1)  # dim=0: "the first axis"


def top_k_down_the_batch(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, top_k, dim=0).values[-1]  # dim=0: down the batch, shape (V,)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1).view(-1)


def keeps_the_smallest(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        ranked = logits.sort(dim=-1).values  # ascending: the smallest first
        logits = logits.masked_fill(logits > ranked[:, top_k - 1 : top_k], float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1).squeeze(1)


# --- The wrong answers met in the round-41 battery (sampling_more) ---


def divides_twice(logits, temperature, top_k):
    from transformer_course.generation import next_token_probs  # the lib's, which divides too

    probs = next_token_probs(logits / temperature, temperature=temperature, top_k=top_k)
    return torch.multinomial(probs, 1).squeeze(-1)


def sigmoid_instead_of_softmax(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.sigmoid(logits), 1).squeeze(-1)  # "a probability per token"


def masks_the_probabilities(logits, temperature, top_k):
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_k is not None:
        kth = probs.topk(top_k, dim=-1).values[:, -1:]
        probs = probs.masked_fill(probs < kth, float("-inf"))  # −∞ after the softmax
    return torch.multinomial(probs, 1).squeeze(-1)


# --- Round 42's battery: the examples of sampling_slips ---


def thresholds_with_kthvalue(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = logits.kthvalue(top_k, dim=-1, keepdim=True).values  # the k-th SMALLEST
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1)


def _filtered(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        logits = logits.masked_fill(logits < logits.topk(top_k, dim=-1).values[:, -1:], float("-inf"))
    return logits


def draws_every_row_from_the_first(logits, temperature, top_k):
    probs = torch.softmax(_filtered(logits, temperature, top_k), dim=-1)
    return torch.multinomial(probs[0], logits.shape[0], replacement=True)  # one row's draws, B times


def draws_from_the_batch_mean(logits, temperature, top_k):
    probs = torch.softmax(_filtered(logits, temperature, top_k), dim=-1).mean(dim=0)
    return torch.multinomial(probs, logits.shape[0], replacement=True)


def draws_any_token(logits, temperature, top_k):
    return torch.randint(0, logits.shape[-1], (logits.shape[0],))  # "random", not by probability


NOTEBOOK_TEMPERATURE = 3.0  # chapter 08's cells: generate(…, temperature=3.0, …)


def uses_the_notebooks_temperature(logits, temperature, top_k):
    probs = torch.softmax(_filtered(logits, NOTEBOOK_TEMPERATURE, top_k), dim=-1)
    return torch.multinomial(probs, 1).squeeze(-1)


def uses_a_fixed_top_k(logits, temperature, top_k):
    probs = torch.softmax(_filtered(logits, temperature, 3), dim=-1)  # the notebook's top_k=3
    return torch.multinomial(probs, 1).squeeze(-1)


def fills_the_top_k_instead(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits > kth, float("-inf"))  # > where < is due
    return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1)


# --- Round 43: another right answer, in a style not registered before ---
def exponential_race(logits, temperature, top_k):
    """argmax of p / E with E ~ Exp(1) is a draw from p (the exponential race)."""
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = torch.where(logits < kth, torch.tensor(-math.inf), logits)
    probs = torch.softmax(logits, dim=-1)
    return (probs / torch.empty_like(probs).exponential_()).argmax(dim=-1)


def shifts_without_keepdim(logits, temperature, top_k):
    """A softmax by hand, its stability shift made without keepdim: (B, V) − (B,)."""
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    e = torch.exp(logits - logits.max(dim=-1).values)  # lines the maxima up with the tokens
    return torch.multinomial(e / e.sum(dim=-1, keepdim=True), 1).squeeze(-1)


# --- The wrong answers met in round 50's review (sampling_round50) ---


def compares_none_with_zero(logits, temperature, top_k):
    z = logits / temperature
    if top_k > 0:  # top_k may be None: None > 0 raises
        kth = z.topk(top_k, -1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    return torch.multinomial(torch.softmax(z, -1), 1).squeeze(-1)


def keeps_one_token_for_none(logits, temperature, top_k):
    z = logits / temperature
    kth = z.topk(top_k or 1, -1).values[:, -1:]  # None → 1: only the likeliest stays
    z = z.masked_fill(z < kth, float("-inf"))
    return torch.multinomial(torch.softmax(z, -1), 1).squeeze(-1)


def draws_a_batch_per_row(logits, temperature, top_k):
    z = logits / temperature
    if top_k is not None:
        z = z.masked_fill(z < z.topk(top_k, -1).values[:, -1:], float("-inf"))
    return torch.multinomial(torch.softmax(z, -1), z.shape[0])[:, 0]  # B draws per row


def draws_once_for_the_batch(logits, temperature, top_k):
    z = logits / temperature
    if top_k is not None:
        z = z.masked_fill(z < z.topk(top_k, -1).values[:, -1:], float("-inf"))
    return torch.multinomial(torch.softmax(z, -1)[0], 1).expand(z.shape[0])  # row 0's one draw


# --- The wrong answers met in round 50's second pass (sampling_round50b) ---


def thresholds_with_the_first_row(logits, temperature, top_k):
    z = logits / temperature
    if top_k is not None:
        kth = z[0].topk(top_k).values[-1]  # the first row's k-th largest, for every row
        z = z.masked_fill(z < kth, float("-inf"))
    return torch.multinomial(torch.softmax(z, -1), 1).squeeze(-1)
