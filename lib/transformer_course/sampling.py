"""Choosing the next token from the model's scores: greedy, temperature, top-k, top-p.

logits (..., V) → a distribution (..., V) → a token. Each knob reshapes the distribution
before the draw:

- temperature T: softmax(logits / T). Below 1 sharpens (T → 0 is greedy), above 1 flattens.
- top-k: only the k highest-scoring tokens keep any probability (a token that ties with
  the k-th highest stays too, as in Hugging Face's ``TopKLogitsWarper``: no tie is broken).
- top-p (nucleus): only the smallest set of most likely tokens whose probabilities add up
  to at least p; a confident model keeps few tokens, an unsure one many. Equally likely
  tokens are taken lower id first, so a tie at the boundary keeps the lower ids.

Applied in that order (as in Hugging Face's samplers), then renormalised to sum to 1.

Logits of -inf block a token (its probability is 0). A row where every token is
blocked leaves nothing to choose: ``next_token_probs`` raises a ValueError that says so,
rather than dividing 0 by 0 (NaN probabilities) or silently picking token 0.
(``stable_softmax`` returns zeros for such a row, which suits attention, where a query
may see no key; a generator must write something.) NaN or +inf logits are refused too.
``generation`` runs these one token at a time.
"""

from __future__ import annotations

import math

import torch

from . import _validate

STRATEGIES = ("greedy", "sample")
_TINY = torch.finfo(torch.float32).tiny
_HUGE = torch.finfo(torch.float32).max
_SUM_TOLERANCE = 1e-2  # keep_top_p's rows: well above bfloat16's rounding of a softmax (0.2 %)


def check_options(
    temperature: float, top_k: int | None, vocab_size: int | None = None, *, top_p: float | None = None
) -> None:
    """ValueError naming the argument for a temperature that is negative or not a finite
    number (NaN, inf), a top_k outside 1 … V, or a top_p outside (0, 1]."""
    _validate.finite_number("temperature", temperature, at_least=0, note=" (0 = greedy)")
    if vocab_size is not None:  # compared with top_k below: a str would fail at ">"
        vocab_size = _validate.positive_int("vocab_size", vocab_size)
    if top_k is not None:
        top_k = _validate.integer("top_k", top_k, low=1)
        if vocab_size is not None and top_k > vocab_size:
            raise ValueError(f"top_k must be at most the vocabulary size ({vocab_size}), got {top_k}")
    if top_p is not None:
        _validate.finite_number("top_p", top_p, above=0, at_most=1, note=" (1 or None = every token)")


def check_strategy(strategy: object) -> str:
    """One of ``STRATEGIES`` (a numpy array or a list would fail inside ``in``, unnamed)."""
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    return strategy


def check_logits(logits: torch.Tensor) -> None:
    """Logits (..., V) a token can be chosen from: no NaN or +inf, and in every row at least
    one token that is not blocked (-inf)."""
    _validate.tensor("logits", logits, floating=True)
    _validate.stored("logits", logits)  # its values are read just below
    if math.isfinite(float(logits.detach().sum())):
        # The usual case, in one cheap pass: a sum is finite only if every term is (NaN or ±inf
        # in any term makes it NaN or ±inf), so every token is allowed and nothing is refused.
        # (A sum that overflows goes on to the exact checks below, which then find nothing.)
        return
    if logits.isnan().any() or logits.isposinf().any():
        raise ValueError("logits must hold finite numbers or -inf (a blocked token), got NaN or +inf")
    blocked = logits.isneginf().all(dim=-1)
    if blocked.any():
        raise ValueError(
            f"logits must leave at least one token allowed, but every token is blocked (-inf) in "
            f"{int(blocked.sum())} of {blocked.numel()} rows: there is nothing to choose"
        )


def next_token_probs(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """logits (..., V) → the distribution a sampler draws from, (..., V).

    Divide by ``temperature`` (below 1 sharpens, above 1 flattens), keep only the
    ``top_k`` largest logits and any that tie with the k-th (the rest get probability 0),
    softmax, then keep only the
    nucleus of probability ``top_p`` and renormalise. Temperature 0 puts all the
    probability on the argmax: greedy. A row whose every logit is -inf raises a
    ValueError: no token can be chosen from it.
    """
    _validate.tensor("logits", logits, floating=True)
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(
            f"logits must have a last dimension of V >= 1 scores, got shape {tuple(logits.shape)}"
        )
    check_options(temperature, top_k, logits.shape[-1], top_p=top_p)
    check_logits(logits)
    logits = logits.detach()
    temperature = float(temperature)  # a huge int (10**30) fails inside torch's division
    top_p = top_p if top_p is None else float(top_p)  # a Fraction fails in torch's comparison
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
    # Each row's largest logit becomes 0 and the rest negative before dividing, so neither a
    # tiny temperature (1e-45) nor float64 logits beyond float32's range overflow to inf
    # (inf - inf = NaN probabilities); softmax is unchanged by the shift. It is made in float32 at
    # least: in float16/bfloat16 it rounds distinct logits far below the largest to one value
    # (100 - 0.5039 = 100 - 0.5 in bfloat16), which top_k then keeps as a tie.
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    logits = (logits - logits.amax(dim=-1, keepdim=True)).float()
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    # Below float32's smallest normal number the temperature would round to 0 (0 / 0 = NaN).
    probs = torch.softmax(_divide(logits, max(temperature, _TINY)), dim=-1)
    return probs if top_p is None or top_p == 1 else _keep_top_p(probs, top_p)


def _divide(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """float32 logits / temperature. Above float32's largest number (3.4e38) the temperature
    would round to inf there, and a blocked token's -inf / inf is NaN: divided in float64."""
    if temperature > _HUGE:
        return (logits.double() / temperature).float()
    return logits / temperature


def keep_top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """probs (..., V) → (..., V): the nucleus only, renormalised.

    The nucleus: the most likely tokens, taken in order until their probabilities add up
    to at least ``top_p``. A token stays when the tokens ranked above it hold less than
    ``top_p`` together, so the most likely token always stays. Equally likely tokens are
    ranked lower id first (a tie at the boundary keeps the lower ids); the totals are
    added in float64, so thousands of small probabilities still reach ``top_p`` exactly.
    Each row must sum to 1 (within 0.01, which float16 and bfloat16 softmax rows meet): logits
    or counts are refused, since ``top_p`` is a share of a total of 1.
    """
    _validate.tensor("probs", probs, floating=True)
    if probs.dim() == 0 or probs.shape[-1] == 0:
        got = tuple(probs.shape)
        raise ValueError(f"probs must have a last dimension of V >= 1 probabilities, got shape {got}")
    _validate.stored("probs", probs)
    _validate.finite_tensor("probs", probs, at_least=0)
    if probs.numel() and bool((probs.sum(dim=-1) <= 0).any()):
        raise ValueError("probs must give each row some probability, got a row of zeros")
    _check_sums_to_one(probs)
    top_p = _validate.finite_number("top_p", top_p, above=0, at_most=1)  # a float, not a Fraction
    return _keep_top_p(probs, top_p)


def _check_sums_to_one(probs: torch.Tensor) -> None:
    """probs (..., V): every row a distribution. Logits, exp(logits) or counts would give a
    nucleus of the wrong tokens without a word (top_p is a share of 1: [5, 3, 1] kept only the
    first). The rows' totals are added in float64; the tolerance lets through what softmax
    makes in float16 or bfloat16 (each number rounded by up to 2**-9 of itself, so a row's
    total by up to 0.2 %)."""
    if not probs.numel():
        return
    totals = probs.detach().sum(dim=-1, dtype=torch.float64)  # (...,)
    worst = int((totals - 1).abs().argmax())
    total = float(totals.flatten()[worst])
    if abs(total - 1) > _SUM_TOLERANCE:
        raise ValueError(
            f"probs must be probabilities: each row must sum to 1 (within {_SUM_TOLERANCE:g}), got a row "
            f"summing to {total:.6g}: pass softmax(logits), not logits, exp(logits) or counts"
        )


def _keep_top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """``keep_top_p`` for probabilities that softmax has just made."""
    ranked, order = probs.sort(dim=-1, descending=True, stable=True)  # (..., V), most likely first
    if ranked.device.type != "mps":  # MPS has no float64; its float32 totals drift, as before
        ranked = ranked.double()  # float32 totals of thousands of tokens drift by 1e-7 or more
    mass_above = ranked.cumsum(dim=-1) - ranked  # (..., V): total of the tokens ranked above
    drop_ranked = mass_above >= top_p  # the nucleus was complete without this token
    drop = drop_ranked.scatter(-1, order, drop_ranked)  # back to vocabulary order
    kept = probs.masked_fill(drop, 0.0)
    return kept / kept.sum(dim=-1, keepdim=True)


def choose(
    logits: torch.Tensor,
    *,
    strategy: str = "greedy",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (B, V) → (chosen ids (B,), the distribution (B, V) they were chosen from).

    Greedy takes the argmax of the raw logits (temperature, top-k and top-p do not change
    it) and reports the model's distribution at temperature 1; sampling draws from
    ``next_token_probs`` with ``generator`` (seeded → reproducible).
    """
    _validate.tensor("logits", logits, ndim=2, floating=True)
    if logits.shape[-1] == 0:  # argmax over no token fails inside torch
        raise ValueError(
            f"logits must have a last dimension of V >= 1 scores, got shape {tuple(logits.shape)}"
        )
    _validate.stored("logits", logits)
    check_strategy(strategy)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be None or a torch.Generator, got {type(generator).__name__}")
    # Checked for greedy too, which ignores them: a bad value is a mistake all the same.
    check_options(temperature, top_k, logits.shape[-1], top_p=top_p)
    if strategy == "greedy":  # the model's own distribution; take its peak
        return logits.argmax(dim=-1), next_token_probs(logits)
    probs = next_token_probs(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    if temperature == 0:
        return logits.argmax(dim=-1), probs
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1), probs
