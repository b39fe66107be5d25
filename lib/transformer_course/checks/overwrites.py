"""Which elements of a marked tensor the learner's own numbers have written over (``built_ins``).

``out = torch.softmax(x, -1)`` marks ``out``; ``out[i] = mine[i]`` for every row, or ``out[...] =
mine``, then leaves none of the built-in's values in it, and ``out`` is no longer the built-in's
answer. A write of unmarked values is replayed on a bool tensor the size of the marked tensor's
storage (the same index, ``True`` for "written over"); once every element the marked tensor shows
is written over, it is unmarked. A write through a view counts on the storage the view shares
with its base: ``out.view(-1)[:] = …`` and ``out[i].copy_(…)`` cover ``out``'s elements. A partial
write leaves the tensor marked, and a write of marked values marks its elements again.

Nothing here runs before something is marked, and a mask is made only on the first write of
unmarked values into a marked tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# Replays a write on a mask shaped like the tensor written: the flag where the write wrote; gives
# how many elements it wrote (more where an index repeats one: a bound, not a count).
Region = Callable[[torch.Tensor, bool], int]


def _setitem(index: object) -> Region:
    def region(mask: torch.Tensor, flag: bool) -> int:
        written = mask[index].numel()  # a view for a basic index: no copy
        mask[index] = flag
        return written

    return region


def _every(mask: torch.Tensor, flag: bool) -> int:
    mask.fill_(flag)
    return mask.numel()


EVERY: Region = _every
_WHOLE = frozenset(("copy_", "fill_", "zero_"))  # these replace every element of the tensor written


def overwrite(name: str, args: tuple) -> tuple[Region, bool] | None:
    """For a function that sets elements of ``args[0]`` to values it does not read from them:
    where it writes, and whether that is every element; None for any other function."""
    if name == "__setitem__" and len(args) > 1:
        return _setitem(args[1]), False
    if name in _WHOLE:
        return EVERY, True
    return None


@dataclass
class _Covered:
    """A marked tensor's mask over its storage, True where unmarked values were written, and
    how many of its elements were left at the last look (``left``) and written since (``since``):
    the whole mask is looked at again only once ``since`` reaches ``left``, so a row loop over a
    (1000, 1000) tensor looks once, not 1000 times (1 ms each)."""

    tensor: torch.Tensor  # kept alive, so that its id is not reused
    mask: torch.Tensor  # (storage elements,) bool
    left: int
    since: int = 0


class Overwrites:
    """For each marked tensor written into with unmarked values: which elements of its storage
    those writes covered."""

    def __init__(self) -> None:
        self.masks: dict[int, _Covered] = {}

    def cover(self, marked: torch.Tensor, target: torch.Tensor, region: Region) -> bool:
        """Records that ``region`` of ``target`` (``marked`` or a view of its storage) now holds
        unmarked values; True where every element of ``marked`` does."""
        try:
            covered = self._covered(marked)
            covered.since += region(_window(covered.mask, marked, target), True)
            if covered.since < covered.left:  # some element is surely left
                return False
            covered.left = int((~_window(covered.mask, marked, marked)).sum())
            covered.since = 0
            return covered.left == 0
        except Exception:  # an index or a tensor the replay cannot take: it stays marked
            return False

    def uncover(self, marked: torch.Tensor, target: torch.Tensor, region: Region) -> None:
        """Records that ``region`` of ``target`` holds marked values again (``left`` stays a
        lower bound: it only grows)."""
        covered = self.masks.get(id(marked))
        if covered is None or covered.tensor is not marked:
            return
        try:
            region(_window(covered.mask, marked, target), False)
        except Exception:  # forget what was covered: marked until written over again
            self.forget(marked)

    def forget(self, t: torch.Tensor) -> None:
        covered = self.masks.get(id(t))
        if covered is not None and covered.tensor is t:
            del self.masks[id(t)]

    def _covered(self, t: torch.Tensor) -> _Covered:
        covered = self.masks.get(id(t))
        if covered is None or covered.tensor is not t:
            size = t.untyped_storage().nbytes() // t.element_size()
            mask = torch.zeros(size, dtype=torch.bool, device=t.device)
            covered = self.masks[id(t)] = _Covered(t, mask, left=t.numel())
        return covered


def _window(mask: torch.Tensor, marked: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The elements of ``mask`` (over ``marked``'s storage) that ``target`` shows, shaped like
    it; ValueError where ``target`` does not share that storage element for element."""
    same = target.untyped_storage().data_ptr() == marked.untyped_storage().data_ptr()
    if not same or target.element_size() != marked.element_size():
        raise ValueError("not a view of the marked tensor's storage")
    return mask.as_strided(target.size(), target.stride(), target.storage_offset())
