"""Benchmark 4: the course's own speed.

- Each chapter's execution time as nbval runs it: a fresh kernel (nbclient), every cell
  in order. Chapters are discovered as chapters/[0-9][0-9]_*.ipynb, so chapters added
  later are included.
- Chapter 08's time to reach ≥ 99 % accuracy, read from the training history the
  chapter leaves in its kernel (when chapter 08 exists).
- One widget update's Python-side time for every ``Explorer`` class in
  ``transformer_course.widgets``: set one control to another value and time until the
  explorer has rebuilt its figures (``refresh``: figures built, converted to the
  plotly mimebundle). Classes are discovered; ``CONSTRUCTORS`` builds each one with the
  arguments its chapter uses.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ._common import Row, Section, median, spread_ms

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
GOAL_CHAPTER_S = 15.0
GOAL_CHAPTER_08_S = 20.0
GOAL_CHAPTER_09_S = 45.0  # trains a GPT for about 30 s
CHAPTER_GOALS_S = {"08": GOAL_CHAPTER_08_S, "09": GOAL_CHAPTER_09_S}  # the others: GOAL_CHAPTER_S
GOAL_ACCURACY_S = 20.0
GOAL_WIDGET_MS = 20.0


# ---------------------------------------------------------------- chapters


def chapter_notebooks(folder: Path = CHAPTERS) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


# Run in the chapter's kernel after its last cell: reports every training ``History``
# (its loop seconds, step count and evaluations) and every global number whose name
# mentions accuracy or seconds, as JSON on stdout.
_PROBE = r"""
import json as _json
def _tc_probe():
    found = {"histories": [], "numbers": {}}
    for _name, _obj in list(globals().items()):
        if _name.startswith("_"):
            continue
        if type(_obj).__name__ == "History":
            evals = getattr(_obj, "evals", {}) or {}
            found["histories"].append({
                "name": _name, "seconds": float(getattr(_obj, "seconds", 0.0) or 0.0),
                "steps": len(getattr(_obj, "steps", []) or []),
                "evals": {k: [[float(a), float(b)] for a, b in v] for k, v in evals.items()}})
        elif isinstance(_obj, (int, float)) and not isinstance(_obj, bool) and (
                "accuracy" in _name or "seconds" in _name):
            found["numbers"][_name] = float(_obj)
    print(_json.dumps(found))
_tc_probe()
"""


def execute_notebook(path: Path, *, timeout: int = 300, probe: bool = False) -> dict:
    """Execute every cell of ``path`` in a fresh kernel; times in seconds.

    Returns total (kernel start + cells), cells (cells only), the slowest cell, and the
    probe's findings (a list) when ``probe``.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    result: dict = {"error": None}
    t0 = time.perf_counter()
    with client.setup_kernel(stderr=subprocess.DEVNULL):
        t1 = time.perf_counter()
        slowest = (0.0, -1)
        try:
            for i, cell in enumerate(nb.cells):
                start = time.perf_counter()
                client.execute_cell(cell, i)
                slowest = max(slowest, (time.perf_counter() - start, i))
        except Exception as err:  # noqa: BLE001 - a failing chapter is a result, not a crash
            result["error"] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:200]}"
        t2 = time.perf_counter()
        if probe and result["error"] is None:
            cell = nbformat.v4.new_code_cell(_PROBE)
            nb.cells.append(cell)
            client.execute_cell(cell, len(nb.cells) - 1)
            texts = [o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream"]
            try:
                result["probe"] = json.loads("".join(texts).strip().splitlines()[-1])
            except (ValueError, IndexError):
                result["probe"] = {}
    result.update(total=t2 - t0, cells=t2 - t1, slowest_cell=slowest)
    return result


def time_to_accuracy(found: dict, target: float = 0.99) -> tuple[float | None, str]:
    """From the probe's findings: seconds of training until accuracy ≥ ``target``, and how.

    In order: an accuracy evaluation logged in a History during training (time
    interpolated from the loop's seconds by step); else the chapter's held-out
    ``accuracy`` after a fixed-length run, with that run's time (``train_seconds``, the
    training cell's wall time with its live plot, else the History's loop seconds).
    """
    histories = sorted(found.get("histories", []), key=lambda h: h["name"] != "history")
    numbers = found.get("numbers", {})
    for h in histories:
        for name, points in h["evals"].items():
            if "acc" not in name or not h["steps"]:
                continue
            hit = next((step for step, value in points if value >= target), None)
            if hit is not None:
                return (
                    h["seconds"] * hit / h["steps"],
                    f"History `{h['name']}`.evals['{name}'] first ≥ {target} at step {hit:.0f} "
                    f"of {h['steps']}, time interpolated from its {h['seconds']:.1f} s",
                )
    accuracy = numbers.get("accuracy")
    if accuracy is not None and histories:
        h = histories[0]
        seconds = numbers.get("train_seconds", h["seconds"])
        source = (
            "train_seconds (training cell, live plot included)"
            if "train_seconds" in numbers
            else f"History `{h['name']}`.seconds"
        )
        if accuracy >= target:
            return seconds, (f"{h['steps']} steps then held-out accuracy {accuracy:.1%}; time = {source}")
        return None, f"held-out accuracy {accuracy:.1%} after {h['steps']} steps: below {target:.0%}"
    return None, "no training History with an accuracy found in chapter 08's kernel"


def run_chapters(section: Section, notebooks: list[Path]) -> None:
    saw_08 = False
    for path in notebooks:
        is_08 = path.name.startswith("08_")
        saw_08 |= is_08
        goal = CHAPTER_GOALS_S.get(path.name[:2], GOAL_CHAPTER_S)
        res = execute_notebook(path, probe=is_08)
        if res["error"]:
            section.rows.append(Row(f"chapter {path.stem}", "failed", res["error"], f"≤ {goal:.0f} s", False))
            continue
        secs, idx = res["slowest_cell"]
        section.rows.append(
            Row(
                f"chapter {path.stem}",
                f"{res['total']:.1f} s",
                f"cells {res['cells']:.1f} s + kernel start {res['total'] - res['cells']:.1f} s; "
                f"slowest cell #{idx}: {secs:.1f} s",
                f"≤ {goal:.0f} s",
                res["total"] <= goal,
            )
        )
        if is_08:
            t, how = time_to_accuracy(res.get("probe", {}))
            section.rows.append(
                Row(
                    "chapter 08: training time to ≥ 99 % accuracy",
                    "not available" if t is None else f"{t:.1f} s",
                    how,
                    f"≤ {GOAL_ACCURACY_S:.0f} s",
                    None if t is None else t <= GOAL_ACCURACY_S,
                )
            )
    if not saw_08:
        section.rows.append(
            Row(
                "chapter 08: training time to ≥ 99 % accuracy",
                "not yet available",
                "chapters/08_*.ipynb does not exist yet",
                f"≤ {GOAL_ACCURACY_S:.0f} s",
                None,
            )
        )


# ---------------------------------------------------------------- widgets


def _chapter02_attention():
    from transformer_course.attention import MultiHeadAttention

    attention = MultiHeadAttention(16, num_heads=2)
    with torch.no_grad():
        attention.q_proj.weight.mul_(3)
    return attention


def _single_head(d_model: int, **kwargs):
    from transformer_course.attention import SingleHeadAttention

    return SingleHeadAttention(d_model, **kwargs)


def _sharp_heads(d_model: int, heads: int):
    from transformer_course.attention import MultiHeadAttention

    mha = MultiHeadAttention(d_model, heads)
    with torch.no_grad():
        mha.q_proj.weight.mul_(3)
    return mha


# Chapter 08's explorers, with untrained models (an update costs the same; nothing is trained).
def _chapter08_loss_curve():
    from transformer_course.training import History

    curve = _widgets().LiveLossCurve(total_steps=200, title="Reversing: training loss")
    losses = (2.5 * torch.exp(-torch.arange(200) / 40.0) + 0.01).tolist()
    curve.update(History(steps=list(range(1, 201)), losses=losses))
    return curve


def _chapter08_history_explorer():
    from transformer_course.data import pronoun_task
    from transformer_course.model import TransformerConfig
    from transformer_course.pointer import PronounPointer, snapshot

    pt = pronoun_task(num_train=2000, num_test=300, seed=0)
    config = TransformerConfig(
        vocab_size=len(pt.vocab),
        d_model=32,
        num_heads=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        d_ff=64,
        dropout=0.0,
        max_len=16,
    )
    pointer = PronounPointer(config).eval()
    shown = pt.test[:8]
    snapshots = {}
    with torch.no_grad():
        for step in (0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100):
            snapshots[step] = snapshot(pointer, shown, pt.test)
    explorer = _widgets().AttentionHistoryExplorer(
        snapshots,
        [pt.tokens(shown, i) for i in range(len(shown))],
        shown.it_pos.tolist(),
        shown.referent_pos.tolist(),
        shown.distractor_pos.tolist(),
    )
    explorer.controls["step"].value = 100
    return explorer


def _chapter08_generation_explorer():
    from transformer_course.data import sequence_task
    from transformer_course.model import Transformer, TransformerConfig

    task = sequence_task("reverse", num_symbols=8, min_len=3, max_len=6, num_train=4000, num_test=500, seed=0)
    config = TransformerConfig(
        vocab_size=len(task.vocab),
        d_model=32,
        num_heads=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        d_ff=64,
        dropout=0.0,
        max_len=16,
    )
    return _widgets().GenerationExplorer(Transformer(config).eval(), task, text="3 1 4 1 5")


def _chapter09_story_explorer():
    from transformer_course import stories
    from transformer_course.model import DecoderOnlyTransformer, TransformerConfig

    generator, vocab = stories.StoryGenerator(), stories.story_vocab()
    config = TransformerConfig(
        vocab_size=len(vocab),
        d_model=64,
        num_heads=16,  # chapter 09's model: one block of 16 heads of 4 dimensions
        num_decoder_layers=1,
        d_ff=128,
        dropout=0.0,
        max_len=generator.max_tokens(),
        norm_first=True,
        positional="learned",
    )
    return _widgets().StoryExplorer(DecoderOnlyTransformer(config).eval(), vocab, generator=generator)


def _chapter07_model():
    from transformer_course.model import Transformer, TransformerConfig

    config = TransformerConfig(
        vocab_size=len(_vocab()),
        d_model=32,
        num_heads=4,
        num_encoder_layers=2,
        num_decoder_layers=2,
        d_ff=64,
        dropout=0.1,
        max_len=64,
    )
    return Transformer(config)


def _vocab():
    from transformer_course.tokenizer import course_vocab

    return course_vocab()


def _embedding(d_model: int = 8, **kwargs):
    from transformer_course.embeddings import TokenEmbedding

    return TokenEmbedding(len(_vocab()), d_model, **kwargs)


# Explorer class name → a function building it with the arguments its chapter uses.
# A class missing here is built by guessing its arguments from their names (below).
CONSTRUCTORS: dict[str, Callable[[], object]] = {
    "RepeatedProductExplorer": lambda: _widgets().RepeatedProductExplorer(factor=0.9, steps=50),
    "PathLengthExplorer": lambda: _widgets().PathLengthExplorer(length=50, scale=1.0),
    "EmbeddingExplorer": lambda: _widgets().EmbeddingExplorer(
        _vocab(), _embedding(8), text="the cat saw the dog"
    ),
    "PositionalExplorer": lambda: _widgets().PositionalExplorer(length=24, d_model=32),
    "WordOrderExplorer": lambda: _widgets().WordOrderExplorer(
        _vocab(),
        _embedding(16, scale=False),
        _chapter02_attention(),
        text_a="Squatch eats pizza",
        text_b="Pizza eats Squatch",
    ),
    "QKVExplorer": lambda: _widgets().QKVExplorer(
        _vocab(), _embedding(8, scale=False), _single_head(8, d_k=4), text="I'm playing with a cat", query=0
    ),
    "ScalingExplorer": lambda: _widgets().ScalingExplorer(
        _vocab(),
        _embedding(32, scale=False),
        "the pizza came out of the oven and it tasted good",
        d_k=64,
        temperature=1.0,
        scaled=True,
    ),
    "HeadGridExplorer": lambda: _widgets().HeadGridExplorer(
        _vocab(),
        _embedding(32, scale=False),
        _sharp_heads(32, 8),
        text="the pizza came out of the oven and it tasted good",
    ),
    "MaskExplorer": lambda: _widgets().MaskExplorer(
        _vocab(),
        _embedding(16, scale=False),
        _single_head(16),
        sentences=("I love deep learning", "the cat sat", "tell me about pizza and cheese"),
    ),
    "ModelExplorer": lambda: _widgets().ModelExplorer(
        _chapter07_model(), _vocab(), source="the pizza came out of the oven", target="it tasted good"
    ),
    "LiveLossCurve": lambda: _chapter08_loss_curve(),
    "AttentionHistoryExplorer": lambda: _chapter08_history_explorer(),
    "GenerationExplorer": lambda: _chapter08_generation_explorer(),
    "StoryExplorer": lambda: _chapter09_story_explorer(),
}

# Argument name → a value that fits, for explorers without a registered constructor.
GUESSES: dict[str, Callable[[], object]] = {
    "vocab": _vocab,
    "embedding": lambda: _embedding(16, scale=False),
    "embed": lambda: _embedding(16, scale=False),
    "attention": _chapter02_attention,
    "model": _chapter07_model,
}


def _widgets():
    from transformer_course import widgets

    return widgets


def explorer_classes() -> list[type]:
    """Every explorer the widgets package exports; bases (no ``render`` of their own) are left out."""
    widgets = _widgets()
    return [
        cls
        for _, cls in inspect.getmembers(widgets, inspect.isclass)
        if issubclass(cls, widgets.Explorer)
        and cls.render is not widgets.Explorer.render
        and cls.__module__.startswith(widgets.__name__ + ".")
    ]


def build_explorer(cls: type):
    torch.manual_seed(0)
    if cls.__name__ in CONSTRUCTORS:
        return CONSTRUCTORS[cls.__name__]()
    kwargs = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty:
            if name not in GUESSES:
                raise LookupError(
                    f"no constructor in bench/course.py CONSTRUCTORS and no guess for its argument {name!r}"
                )
            kwargs[name] = GUESSES[name]()
    return cls(**kwargs)


def other_value(widget):
    """A different valid value for ``widget``, so setting it triggers one update."""
    import ipywidgets as w

    value = widget.value
    if isinstance(widget, (w.Checkbox, w.ToggleButton)):
        return not value
    if isinstance(widget, w.FloatLogSlider):  # its step is on the exponent
        up = value * widget.base**widget.step
        return up if up <= widget.base**widget.max else value / widget.base**widget.step
    if isinstance(widget, (w.IntSlider, w.FloatSlider, w.BoundedIntText, w.BoundedFloatText)):
        step = widget.step or 1
        return value + step if value + step <= widget.max else value - step
    if hasattr(widget, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        if isinstance(widget, w.SelectMultiple):  # the first item alone, or the first two
            one = tuple(values[:1])
            return (one if value != one else tuple(values[:2])) if len(values) > 1 else None
        return next(v for v in values if v != value) if len(values) > 1 else None
    if isinstance(value, str):
        words = value.split()
        return " ".join(reversed(words)) if len(set(words)) > 1 else None
    return None


def time_explorer(explorer, *, rounds: int = 10) -> dict[str, tuple[list[float], list[float]]]:
    """Control name → (wall seconds, CPU seconds) per update, setting the control back and forth.

    CPU time (``time.process_time``) is what the update costs this process; on a busy
    machine the wall time adds the waits for a core.
    """
    samples: dict[str, tuple[list[float], list[float]]] = {}
    for name, control in explorer.controls.items():
        original, alternative = control.value, other_value(control)
        if alternative is None or alternative == original:
            continue
        for value in (alternative, original):  # warm-up
            control.value = value
        wall, cpu = [], []
        for i in range(2 * rounds):
            start, start_cpu = time.perf_counter(), time.process_time()
            control.value = alternative if i % 2 == 0 else original
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        samples[name] = (wall, cpu)
    return samples


def run_widgets(section: Section, *, rounds: int = 10) -> None:
    for cls in explorer_classes():
        try:
            explorer = build_explorer(cls)
        except Exception as err:  # noqa: BLE001 - a missing constructor is a result
            section.rows.append(
                Row(
                    f"widget {cls.__name__}: one update",
                    "not measured",
                    f"{type(err).__name__}: {err}",
                    f"≤ {GOAL_WIDGET_MS:.0f} ms",
                    None,
                )
            )
            continue
        samples = time_explorer(explorer, rounds=rounds)
        if not samples:
            section.rows.append(
                Row(
                    f"widget {cls.__name__}: one update",
                    "not measured",
                    "no control could be changed",
                    f"≤ {GOAL_WIDGET_MS:.0f} ms",
                    None,
                )
            )
            continue
        worst = max(samples, key=lambda n: median(samples[n][0]))
        every = [t for wall, _ in samples.values() for t in wall]
        slowest = median(samples[worst][0]) * 1e3
        section.rows.append(
            Row(
                f"widget {cls.__name__}: one update (slowest control: {worst})",
                f"{slowest:.1f} ms",
                f"all controls: {spread_ms(every)}; per control, median wall / CPU ms: "
                + ", ".join(
                    f"{n} {median(w) * 1e3:.1f} / {median(c) * 1e3:.1f}" for n, (w, c) in samples.items()
                ),
                f"≤ {GOAL_WIDGET_MS:.0f} ms",
                slowest <= GOAL_WIDGET_MS,
            )
        )


def run_chapters_section(*, notebooks: list[Path] | None = None) -> Section:
    section = Section("chapters", "4a · The course itself: each chapter, and chapter 08's training")
    section.notes.append(
        "Each notebook executed top to bottom in a fresh python3 kernel with nbclient (as nbval "
        "does, without pytest's own start-up of about 2.5 s); time = kernel start + every cell. "
        "Chapters are discovered as chapters/[0-9][0-9]_*.ipynb."
    )
    run_chapters(section, chapter_notebooks() if notebooks is None else notebooks)
    return section


def run_widgets_section(*, rounds: int = 10) -> Section:
    section = Section("widgets", "4b · The course itself: one widget update")
    section.notes.append(
        "Python-side time of one update of every Explorer class in transformer_course.widgets: "
        f"set one control to another value and back ({2 * rounds} updates per control), timed "
        "until the explorer has rebuilt its figures and their plotly mimebundle (what is sent to "
        "the browser). The figure is the median of the slowest control."
    )
    run_widgets(section, rounds=rounds)
    return section
