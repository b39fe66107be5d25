"""Whether a learner's function changed the state of a module it was given, and the warning that
says so: ``layer.eval()`` / ``model.train()`` (the ``training`` flag of the module or any of its
submodules) or ``requires_grad_(False)`` on its parameters.

Its values can be right, and the harness hands every call a copy, so it passes; in the learner's
notebook the model stays that way after the call: dropout silently off for the rest of training
(``eval()``), or weights that stop learning (``requires_grad_(False)``). So, like ``in_place``,
the harness compares each copy it handed over with the case after the call (``changed_states``),
and once more on a copy whose modules are all in training mode (``changed_in_training_mode``):
most cases hand over modules in eval mode, where a call of ``eval()`` changes nothing. A change
the reference makes too is no slip (a training step may call ``model.train()``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from .cases import fresh
from .in_place import parameter_names
from .time_limit import LIMIT_S, TookTooLong, time_limit

LEARNER_ERRORS = (Exception, SystemExit)

_TRAINING, _GRAD = "training", "requires_grad"


def _modules(value: object, path: str) -> list[tuple[str, torch.nn.Module]]:
    """The modules an argument holds, by path: itself, a dataclass's fields (the parts of a
    model), a list's items."""
    if isinstance(value, torch.nn.Module):
        return [(path, value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return [m for f in fields for m in _modules(getattr(value, f.name), f"{path}.{f.name}")]
    if isinstance(value, list | tuple):
        return [m for i, item in enumerate(value) for m in _modules(item, f"{path}[{i}]")]
    return []


def _states(value: object, path: str) -> dict[tuple[str, str], bool]:
    """{(kind, where): flag}: the ``training`` flag of every (sub)module an argument holds, and
    the ``requires_grad`` of every parameter."""
    states = {}
    for where, module in _modules(value, path):
        for name, sub in module.named_modules():
            states[_TRAINING, f"{where}.{name}".rstrip(".")] = sub.training
        for name, param in module.named_parameters():
            states[_GRAD, f"{where}.{name}"] = param.requires_grad
    return states


def changed_states(fn: Callable, given: tuple, case: tuple, reference: tuple) -> list[tuple[str, str, bool]]:
    """(argument, kind, new flag) for every module argument of ``fn`` whose modules' training
    flags or parameters' requires_grad the call changed, where the reference's call left them."""
    changes = []
    for name, after, before, ref in zip(parameter_names(fn, len(case)), given, case, reference, strict=True):
        was, now, theirs = _states(before, name), _states(after, name), _states(ref, name)
        changed = {k: now[k] for k in was if now.get(k, was[k]) != was[k] and theirs.get(k, was[k]) != now[k]}
        changes.extend((name, kind, flag) for (kind, _), flag in changed.items())
    return list(dict.fromkeys(changes))


def changed_in_training_mode(learner_fn: Callable, reference_fn: Callable, case: tuple, seed: int) -> list:
    """``changed_states`` on a copy of ``case`` whose modules are all in training mode (nothing
    when the case holds no module in eval mode, or a call fails there)."""
    modules = [m for i, item in enumerate(case) for _, m in _modules(item, str(i))]
    if not any(not sub.training for m in modules for sub in m.modules()):
        return []
    training = fresh(case)
    for i, item in enumerate(training):
        for _, module in _modules(item, str(i)):
            module.train()
    try:
        with torch.random.fork_rng(devices=[]), time_limit(LIMIT_S):
            mine, theirs = fresh(training), fresh(training)
            torch.default_generator.manual_seed(seed)
            learner_fn(*mine)
            torch.default_generator.manual_seed(seed)
            reference_fn(*theirs)
    except (*LEARNER_ERRORS, TookTooLong):
        return []
    return changed_states(learner_fn, mine, training, theirs)


def side_effect_warning(changes: list[tuple[str, str, bool]], *, also: bool = False) -> str:
    """What a passed verdict adds when the learner's function changed the state of modules it
    was given: which argument, what changed, and how to leave it as it was (``also``: after
    another warning, the in-place one)."""
    changes = list(dict.fromkeys(changes))
    said = []
    for name in dict.fromkeys(name for name, _, _ in changes):
        kinds = {(kind, flag) for n, kind, flag in changes if n == name}
        said += [_said(name, kind, flag) for kind, flag in sorted(kinds)]
    return (" Also, " if also else " But beware: ") + " Also, ".join(said)


def _said(name: str, kind: str, flag: bool) -> str:
    if kind == _TRAINING and not flag:
        return (
            f"it switched the {name} it was given to eval mode (its .eval(), or .train(False)): "
            f"in your notebook {name} stays in eval mode after the call, so dropout is silently "
            "off for the rest of training. Leave the mode to the caller: don't call .eval() "
            f"inside the function; to know whether dropout applies, read {name}.training, as in "
            f"F.dropout(h, p, training={name}.training)."
        )
    if kind == _TRAINING:
        return (
            f"it switched the {name} it was given to training mode (its .train()): in your "
            f"notebook {name} stays in training mode after the call, so dropout stays on where "
            "you meant to evaluate or generate. Leave the mode to the caller: don't call .train() "
            f"inside the function; read {name}.training where you need it."
        )
    switched = "off" if not flag else "on"
    return (
        f"it switched requires_grad {switched} for parameters of the {name} it was given "
        f"(requires_grad_({flag})): in your notebook they stay that way after the call, so "
        f"{'those weights stop learning' if not flag else 'frozen weights start learning'}. "
        "Don't call requires_grad_() on what you were given; use its parameters as they are."
    )
