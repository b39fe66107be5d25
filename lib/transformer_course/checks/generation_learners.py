"""The wrong answers learners write for ``generation``, as code: each Mistake's example.

A greedy loop with one switch per mistake (``by_hand``), a Python list as a correct answer, then
loops that stop, count or collect ids the wrong way. ``generation`` (the exercise, the counting
fake model and the catalogue) imports this module, and this module nothing from it.
"""

from __future__ import annotations

from itertools import count

import torch


def by_hand(
    logits_fn,
    prompt,
    max_new_tokens,
    eos_id,
    *,
    append=True,
    history=True,
    stop=True,
    eos_kept=True,
    pick="last",
    whole=True,
    count_prompt=False,
    bounded=True,
):
    """A learner's greedy loop with one switch per catalogued mistake (all off: correct)."""
    ids = prompt.clone()
    fed = prompt.clone()
    steps = range(max_new_tokens - (prompt.shape[0] if count_prompt else 0)) if bounded else count()
    for _ in steps:
        logits = logits_fn((fed if history else fed[-1:]).unsqueeze(0))  # (1, t, V)
        if pick == "last":
            token = logits[0, -1].argmax(dim=-1)
        elif pick == "axis":
            token = logits[0].argmax(dim=0)[-1]
        elif pick == "flat":
            token = logits.argmax()
        elif pick == "sample":
            token = torch.multinomial(torch.softmax(logits[0, -1], dim=-1), 1)[0]
        else:
            token = logits[0, 0].argmax()
        if stop and int(token) == eos_id and not eos_kept:
            break
        ids = torch.cat([ids, token.reshape(1)])
        if append:
            fed = ids
        if stop and int(token) == eos_id:
            break
    return ids if whole else ids[prompt.shape[0] :]


# --- Other correct answers ---


def python_list(logits_fn, prompt, max_new_tokens, eos_id):
    """Ids kept in a Python list, turned into a tensor at the end."""
    ids = prompt.tolist()
    while len(ids) < prompt.shape[0] + max_new_tokens:
        ids.append(int(logits_fn(torch.tensor([ids]))[:, -1, :].argmax()))
        if ids[-1] == eos_id:
            break
    return torch.tensor(ids)


# --- The wrong answers, each a Mistake's example ---


def looks_for_eos_anywhere(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        if eos_id in ids:  # the prompt's ids too
            break
    return ids


def counts_to_the_limit(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    while len(ids) <= len(prompt) + max_new_tokens:  # <= : one more than allowed
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        if token == eos_id:
            break
    return ids


def collects_floats(logits_fn, prompt, max_new_tokens, eos_id):
    ids = torch.zeros(len(prompt) + max_new_tokens)  # float by default
    ids[: len(prompt)] = prompt
    for step in range(len(prompt), len(ids)):
        ids[step] = logits_fn(ids[:step].long().unsqueeze(0))[0, -1].argmax()
        if ids[step] == eos_id:
            return ids[: step + 1]
    return ids


def checks_the_last_id_first(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    while len(ids) < len(prompt) + max_new_tokens and ids[-1] != eos_id:  # the prompt's last too
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
    return ids


def cats_a_number(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()  # 0-d: a single number, no axis
        ids = torch.cat([ids, token])
        if token == eos_id:
            break
    return ids


def stops_one_step_late(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    finished = False
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        if finished:  # set on the step before: one more token has been written since
            break
        finished = int(token) == eos_id
    return ids


def feeds_the_new_token_only(logits_fn, prompt, max_new_tokens, eos_id):
    ids, fed = prompt.clone(), prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(fed.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        fed = token.view(1)  # "the model remembers the rest"
        if int(token) == eos_id:
            break
    return ids


def takes_the_least_likely(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = torch.argmin(logits_fn(ids[None])[0, -1])
        ids = torch.cat([ids, token[None]])
        if token.item() == eos_id:
            break
    return ids


def appends_to_a_tensor(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids.append(token)  # as with a list
        if token == eos_id:
            break
    return ids


# --- The wrong answers met in the ninth audit (generation_more) ---


def grows_the_prompt_each_time(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([prompt, token.view(1)])  # prompt, where ids was meant
        if int(token) == eos_id:
            break
    return ids


def adds_the_token(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = ids + token  # as a list grows with ids + [token]
        if int(token) == eos_id:
            break
    return ids


# --- The wrong answers met in the tenth audit (generation_more) ---


def reads_the_second_to_last(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        logits = logits_fn(ids.unsqueeze(0))  # (1, t, V)
        token = logits[0, -2].argmax()  # "-1 is the token just added"
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


# --- The wrong answers met in the round-41 battery (generation_more) ---


def feeds_a_column(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(1))[0, -1].argmax()  # (t, 1): the axis at the end
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


def softmax_over_the_positions(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        probs = torch.softmax(logits_fn(ids.unsqueeze(0)), dim=1)  # (1, t, V): dim=1 is the positions
        token = probs[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


def appends_the_largest_score(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].max()  # the largest score, not where it is
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


def puts_the_token_in_front(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([token.view(1), ids])  # the order of the two swapped
        if int(token) == eos_id:
            break
    return ids


def drops_the_first_token(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids[1:]  # "without the <bos>"


def keeps_two_axes(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[:, -1].argmax(dim=-1, keepdim=True)  # (1, 1)
        ids = torch.cat([ids, token])
        if int(token) == eos_id:
            break
    return ids


def feeds_the_whole_buffer(logits_fn, prompt, max_new_tokens, eos_id):
    ids = torch.zeros(len(prompt) + max_new_tokens, dtype=torch.long)  # room for every token
    ids[: len(prompt)] = prompt
    length = len(prompt)
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()  # the zeros not yet written too
        ids[length] = token
        length += 1
        if token == eos_id:
            break
    return ids[:length]


def takes_the_runner_up(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        best = logits_fn(ids[None])[0, -1].sort(descending=True).indices[:2]
        token = best[-1]  # meant the best of the top two
        ids = torch.cat([ids, token.view(1)])
        if token.item() == eos_id:
            break
    return ids


def sums_the_positions(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0].sum(dim=0).argmax()  # "all the evidence"
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


# --- Round 43: another right answer, in a style not registered before ---
def from_a_generator_of_tokens(logits_fn, prompt, max_new_tokens, eos_id):
    """A generator yields each argmax (stopping after <eos>); islice takes at most n of them."""
    from itertools import islice

    def tokens():
        ids = prompt
        while True:
            token = logits_fn(ids[None])[0, -1].topk(1).indices  # (1,)
            yield token
            if token.item() == eos_id:
                return
            ids = torch.cat([ids, token])

    return torch.cat([prompt, *islice(tokens(), max_new_tokens)])
