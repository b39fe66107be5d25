"""The explorer kit: what every explorer is built from.

``Explorer`` holds controls, a message line and named views. Changing any control calls
``render()``, which returns the new content of each view (a ``go.Figure`` from a pure
function in ``figures``, or an HTML string). Input a learner can get wrong (an empty box,
a long text) raises ``InputError`` inside ``render``; the explorer shows it as a message
and keeps the last good figures, so a learner never sees a traceback. Before ``render`` the
explorer checks every control (``control_problem``: a list with nothing picked, a slider set
to NaN or between its steps from code, a value past the range or among options the explorer
did not build it with, where code moved a slider's min or added an option) and the weights of
the learner's modules it names in ``MODULES`` (``nonfinite_problem``: NaN from a training run
that diverged), and a typed word is shown through ``shown_word`` (``token_labels``, ``quote``):
invisible characters spelled out, a pasted essay cut to a label. A render that narrows a
control's range (a slider's max follows d_model, a batch, a story) sets it through
``fit_slider`` / ``pick`` and ``place``: the learner's own pick comes back once the range holds
it again.
The controls an explorer builds from its constructor's arguments, checked by name
(``int_slider``, ``checkbox``, ``check_embedding`` …: a ValueError from code, where a message
would be too late), come from ``controls``, re-exported here.

``SentenceExplorer`` is the base of the explorers that read a typed sentence: it parses
the box, names the unknown words, and embeds the ids on the device where the model lives.

An explorer runs the learner's modules inside ``evaluating``: eval mode and no gradients while
it computes, then each module back in the mode it came in, so opening an explorer never turns
the dropout of a model the learner goes on training off.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from .. import _validate
from ..figures.base import printed_cells, unchecked
from ..modes import evaluating  # noqa: F401 (re-exported: every explorer runs its model in it)
from ..tokenizer import Vocab, tokenize
from .controls import (  # noqa: F401 (re-exported: explorers import their kit from here)
    SelectionSlider,
    check_attention,
    check_embedding,
    checkbox,
    float_slider,
    int_slider,
    log_slider,
    sentence_box,
    text_box,
)
from .view import FigureView, figure_json

MAX_TOKENS = 16  # longer sentences make heatmaps unreadable
# A typed word as a label or in a message: cut to this many characters (the longest word of
# the course's vocabularies has 12), so a pasted 5,000-character "word" keeps a figure's
# margins and the message line readable.
MAX_LABEL = 20
# A weight this large is a training run that blew up, not a model: trained weights stay within
# a few hundred, and a product of two such numbers overflows float32 (3.4e38).
HUGE_WEIGHT = 1e15
MAX_MESSAGE = 1200  # characters; a longer message line is cut (a last guard: see ``quote``)
# The controls whose value is one of their options (None: nothing picked).
CHOICES = (
    widgets.Dropdown,
    widgets.ToggleButtons,
    widgets.RadioButtons,
    widgets.Select,
    widgets.SelectionSlider,
)
# An explorer's heatmaps print their values up to 10 × 10 cells; a larger one shows a colour
# bar and its values on hover, and redraws in about half the time (figures.base.printed_cells).
LIVE_PRINTED_CELLS = 100


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (widget updates work on tiny tensors).

    Waking torch's thread pool costs more than a 24×32 matmul itself, and on a busy
    machine a woken thread can wait a whole time slice: seen 1–20 ms per tiny op with 2
    threads on a loaded 2-core machine, 0.01 ms with one.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextmanager
def live_figures() -> Iterator[None]:
    """How an explorer builds its figures (``Explorer.refresh``, and the tests that rebuild
    them): torch on one thread, heatmaps printing values up to ``LIVE_PRINTED_CELLS``."""
    with single_thread(), printed_cells(LIVE_PRINTED_CELLS):
        yield


def drawable(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` on the CPU as a figure takes it: float16 and bfloat16 (a model converted with
    ``.half()``) in float32, which NumPy reads (bfloat16 failed as "unsupported ScalarType") and
    in which a cosine stays within [-1, 1]; other dtypes as they are."""
    tensor = tensor.detach().cpu()
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


class InputError(ValueError):
    """Input a learner typed that we can explain; shown in the widget as a message."""


def shown_word(word: str, limit: int = MAX_LABEL) -> str:
    """A typed token as a label or a message shows it: characters that draw nothing or move
    the text around (zero-width space, right-to-left override, control characters) spelled
    out as ``\\u200b``, and cut to ``limit`` characters with "…"."""
    word = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in word)
    return word if len(word) <= limit else word[: limit - 1] + "…"


def token_labels(tokens: Iterable[str]) -> list[str]:
    """Typed tokens → the labels a figure or a table shows (``shown_word`` of each)."""
    return [shown_word(t) for t in tokens]


def counted(n: int, noun: str) -> str:
    """A count for a title or a message: "1 token", "2 tokens"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def quote(word: str, limit: int = MAX_LABEL) -> str:
    """'word' for a message (``shown_word``: visible, at most ``limit`` characters)."""
    return f"'{shown_word(word, limit)}'"


def quote_list(words: Iterable[str], *, most: int = 8, limit: int = MAX_LABEL) -> str:
    """'a', 'b', 'c' for a message: the first ``most`` of ``words`` quoted, then how many more."""
    words = list(words)
    listed = ", ".join(quote(w, limit) for w in words[:most])
    return listed + (f" and {len(words) - most} more" if len(words) > most else "")


def choice_options(control: widgets.ValueWidget) -> tuple[tuple[str, object], ...] | None:
    """A list's options as (label, value) pairs (a plain option is its own label); None for a
    control without options (a slider, a box)."""
    if not isinstance(control, (*CHOICES, widgets.SelectMultiple)):
        return None
    return tuple(o if isinstance(o, tuple) else (str(o), o) for o in control.options)


def strange_picks(control: widgets.ValueWidget, options: tuple[tuple[str, object], ...] | None) -> list:
    """The values a list holds that are not among ``options`` ((label, value) pairs); [] for a
    control without options. A single list's None is nothing picked, not a value."""
    if options is None or choice_options(control) is None:
        return []
    many = isinstance(control, widgets.SelectMultiple)
    picked = control.value if many else () if control.value is None else (control.value,)
    values = [v for _, v in options]
    return [v for v in picked if not any(v is b or v == b for b in values)]


def slider_range(control: widgets.ValueWidget) -> tuple[float, float] | None:
    """The values a slider spans, (low, high): a FloatLogSlider's min and max are exponents,
    its range base**min to base**max. None for a control without a min and a max (a list)."""
    if isinstance(control, CHOICES) or not hasattr(control, "min") or not hasattr(control, "max"):
        return None
    if isinstance(control, widgets.FloatLogSlider):
        return control.base**control.min, control.base**control.max
    return control.min, control.max


def outside_range(label: str, value: float, low: float, high: float) -> str:
    """The message for a slider at ``value``, past the range ``low`` to ``high`` the explorer
    built it with: only code moves a slider's min or max (``control_problem``)."""
    return (
        f"'{label}' is {value:g}, outside the range this explorer draws: set it between "
        f"{low:g} and {high:g} (its slider's min or max was changed from code)."
    )


def control_problem(
    name: str,
    control: widgets.ValueWidget,
    bounds: tuple[float, float] | None = None,
    options: tuple[tuple[str, object], ...] | None = None,
) -> str | None:
    """Why ``render`` cannot read ``control`` (set from code, not the page), or None.

    A list with nothing picked (``value = None``), a slider holding NaN (ipywidgets clamps
    ±inf to the slider's range but lets NaN through) and an int slider between its steps
    (ipywidgets clamps a value to the range, never to the steps: PositionalExplorer's d_model,
    in steps of 2, takes 7 from code) become a message naming the control. ``bounds``: the
    range the explorer built the slider with, named in place of a min or max changed from code
    (``slider.max = math.inf`` made the message say "set it between 0.5 and inf"); ``options``:
    the (label, value) options it built a list with (``choice_options``), and a value code put
    among them with new options is named too (``menu.options = [..., 'zz']; menu.value = 'zz'``).
    A value past ``bounds`` (``slider.min = -5; slider.value = -5``) is named with them: the
    explorer's constructor refuses it as an argument, and a render failed on it deep inside
    ("Could not update the figures (IndexError: index -5 is out of bounds …)" for chapter 06's
    sentence) or drew it unasked (chapter 02's d_model 25,700: a 12 MB figure).
    """
    label = getattr(control, "description", "") or name
    value = control.value
    built = choice_options(control) if options is None else options
    if isinstance(control, CHOICES) and value is None:
        listed = quote_list([text for text, _ in built], limit=48)
        return f"Nothing is picked in '{label}': choose one of {listed}."
    strange = strange_picks(control, built)
    if strange:
        return (
            f"'{label}' holds {quote(str(strange[0]))}, not one of the options this explorer draws: "
            f"choose one of {quote_list([text for text, _ in built], limit=48)} (its options were "
            "changed from code)."
        )
    if isinstance(value, float) and not math.isfinite(value):
        low, high = bounds or slider_range(control) or (None, None)
        where = f" between {low:g} and {high:g}" if low is not None and high is not None else ""
        return f"'{label}' is {value}, which is not a number it can use: set it{where}."
    if bounds is not None and isinstance(value, int | float) and not bounds[0] <= value <= bounds[1]:
        return outside_range(label, value, *bounds)
    if isinstance(control, widgets.IntSlider) and control.step > 1 and (value - control.min) % control.step:
        low, high = bounds or (control.min, control.max)
        below = value - (value - control.min) % control.step
        steps = [str(v) for v in (below, below + control.step) if low <= v <= high]
        return (
            f"'{label}' is {value}, between the steps of its slider ({control.step} apart from "
            f"{control.min}): set it to {' or '.join(steps)}."
        )
    return None


def nonfinite_problem(name: str, module: object) -> str | None:
    """Why ``module`` (the explorer's attribute ``name``) cannot be drawn: a weight holding NaN or
    infinity, named, as training that diverged leaves them. None for anything else."""
    if not isinstance(module, torch.nn.Module):
        return None
    # One sum per tensor (0.5 ms for an 800k-weight model, every update); a meta weight (a test's
    # spy) holds no values to check.
    bad = _validate.nonfinite_weight(module)
    if bad is None:
        return None
    return (
        f"The {name}'s weights hold NaN or infinity (the first: {name}.{bad}), so everything it "
        "computes would be NaN. Did its training diverge? Train a fresh one with a smaller learning rate."
    )


@contextmanager
def watched_outputs(modules: Mapping[str, torch.nn.Module]) -> Iterator[list[str]]:
    """While it runs, the list it yields gets the name (a key of ``modules``) of the first module
    whose layers computed NaN, infinity or a number past ``HUGE_WEIGHT`` from finite weights:
    weights so large (×1e30, a blow-up that has not reached NaN yet) that their products
    overflow. Without it, such a model drew blank or NaN cells with no word, or failed deep
    inside ("logits must hold finite numbers"), naming an argument the learner never passed.
    Only a layer with weights of its own (Linear, Embedding, LayerNorm) is looked at: a weight's
    product is never meant to be ±inf, whereas a function's masked scores are (-inf where a key
    is hidden)."""
    owner = {id(m): name for name, top in modules.items() for m in top.modules() if _weighted(m)}
    found: list[str] = []

    def look(module: torch.nn.Module, _inputs: object, output: object) -> None:
        if found or id(module) not in owner:
            return
        outputs = output if isinstance(output, tuple | list) else (output,)
        if any(_overflowed(t) for t in outputs):
            found.append(owner[id(module)])

    handle = torch.nn.modules.module.register_module_forward_hook(look) if owner else None
    try:
        yield found
    finally:
        if handle is not None:
            handle.remove()


def _weighted(module: torch.nn.Module) -> bool:
    """A layer with floating weights of its own (not only its children's), with values."""
    return any(p is not None and p.is_floating_point() and not p.is_meta for p in module._parameters.values())


def _overflowed(output: object) -> bool:
    """A floating tensor holding NaN, ±inf or a number of ``HUGE_WEIGHT`` or more: one that the
    next product overflows (a query of 1e21 gives scores of inf), drawn as inf with no word."""
    if not isinstance(output, torch.Tensor) or not output.is_floating_point() or output.is_meta:
        return False
    if not output.numel():
        return False
    largest = torch.linalg.vector_norm(output.detach(), float("inf"))  # NaN where one is NaN
    return not bool(largest < HUGE_WEIGHT)


def overflow_problem(name: str, module: torch.nn.Module) -> str:
    """The message for ``watched_outputs``' find: the module ``name``'s outputs are not finite."""
    text = _validate.overflow_message(name, module)
    return f"The {text}"


def meta_problem(name: str, module: object) -> str | None:
    """Why ``module`` (the explorer's attribute ``name``) cannot be drawn: weights on the meta
    device, which keeps their shapes and no values. None for anything else."""
    if not isinstance(module, torch.nn.Module):
        return None
    first = next((n for n, p in module.named_parameters() if p.is_meta), None)
    if first is None:
        return None
    return (
        f"The {name}'s weights are on the meta device (the first: {name}.{first}), which keeps their "
        "shapes but no values, so nothing it computes would mean anything. Give it real weights first: "
        f"build it without device='meta', or call {name}.to_empty(device='cpu') and load_state_dict(...)."
    )


def _check_layout(controls: object, views: object) -> None:
    """An explorer's ``controls`` (name → a widget with a value, observed for changes) and
    ``views`` (name → "figure" or "html"), checked by name: another kind would become an HTML
    view that fails on its first figure, a control without a value on its first change."""
    if not isinstance(controls, Mapping) or not all(
        isinstance(c, widgets.ValueWidget) for c in controls.values()
    ):
        raise ValueError("controls must be a dict name → ipywidgets control (a slider, a text box …)")
    if not isinstance(views, Mapping) or not all(kind in ("figure", "html") for kind in views.values()):
        got = dict(views) if isinstance(views, Mapping) else type(views).__name__
        raise ValueError(f'views must be a dict name → "figure" or "html", got {got!r}')


class Explorer(widgets.VBox):
    """Controls on top, a message line, then the views in a responsive grid.

    State for tests: ``controls`` (name → widget), ``figures`` (name → the ``go.Figure``
    on screen), ``message.value``.
    """

    # The attributes holding the learner's modules (a model, an embedding …), whose weights are
    # checked before each render (``check_modules``).
    MODULES: tuple[str, ...] = ()

    def __init__(self, controls: Mapping[str, widgets.ValueWidget], views: Mapping[str, str]):
        """``views`` maps each view's name to its kind: "figure" or "html"."""
        _check_layout(controls, views)
        self.controls = dict(controls)
        self.views = {
            name: FigureView() if kind == "figure" else widgets.HTML() for name, kind in views.items()
        }
        self.message = widgets.HTML()
        self._notes: dict[object, str] = {}
        self._rendering = False  # True while render runs (see _on_change)
        # The learner's own pick of a control that a render narrows (a slider's max, a menu's
        # entries), and the value a render placed there instead: see ``pick``.
        self._picked: dict[str, object] = {}
        self._placed: dict[str, object] = {}
        # Each slider's range as built, (low, high): what ``control_problem`` names when code
        # moved a slider's min or max; ``fit_slider`` narrows or widens it.
        self._ranges = {n: r for n, c in self.controls.items() if (r := slider_range(c)) is not None}
        # Each list's options as built, or as a render last set them (QKVExplorer's query list
        # follows the sentence): what ``control_problem`` names when code changed them.
        self._choices = {n: o for n, c in self.controls.items() if (o := choice_options(c)) is not None}
        # Columns of 420 px, or the explorer's whole width where it is narrower: in a phone's
        # window 420 px columns ran past the explorer's right edge (as export/snapshot.py).
        grid = widgets.GridBox(
            list(self.views.values()),
            layout=widgets.Layout(
                grid_template_columns="repeat(auto-fit, minmax(min(420px, 100%), 1fr))", grid_gap="8px"
            ),
        )
        bar = widgets.HBox(
            list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap", grid_gap="12px")
        )
        super().__init__([bar, self.message, grid])
        self.add_class("tc-explorer")
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.refresh()

    @property
    def figures(self) -> dict[str, go.Figure | None]:
        return {n: v.figure for n, v in self.views.items() if isinstance(v, FigureView)}

    def value(self, name: str):
        """The value of the control ``name`` (a key of ``controls``)."""
        if name not in self.controls:  # a KeyError as from a dict, saying which names there are
            raise KeyError(f"no control named {name!r}; this explorer's controls: {', '.join(self.controls)}")
        return self.controls[name].value

    def pick(self, name: str):
        """From ``render``: the value the learner last chose for control ``name``. That is its
        value, unless a render placed it there (``place``) to fit a narrower range: then the pick
        before it, which a wider range gives back. Moving one control away and back draws what
        it drew (d_model 32 → 4 → 32 had left 'wave pair' at 1, not the 2 the learner chose)."""
        value = self.value(name)
        if name not in self._placed or value != self._placed[name]:  # moved since a render placed it
            self._picked[name] = value
        return self._picked[name]

    def place(self, name: str, value: object) -> None:
        """From ``render``: set control ``name`` to ``value``, the learner's pick fitted to a
        narrower range, which ``pick`` does not take for a pick of its own."""
        self.value(name)  # an unknown name: the KeyError that lists the controls
        self.controls[name].value = value
        self._placed[name] = self.controls[name].value

    def fit_slider(self, name: str, high: int) -> int:
        """From ``render``: the IntSlider ``name`` now reaches ``high`` (a narrower encoding, a
        shorter batch or story) → its value, the learner's pick (``pick``) or ``high`` below it."""
        want = self.pick(name)
        slider = self.controls[name]
        _validate.instance(f"controls[{name!r}]", slider, widgets.IntSlider)
        high = _validate.integer("high", high, low=slider.min)  # a max below min: a TraitError
        slider.max = high  # ipywidgets clamps a value past it
        self._ranges[name] = (self._ranges.get(name, (slider.min, high))[0], high)  # min as built
        self.place(name, max(slider.min, min(want, high)))
        return slider.value

    def note(self, text: str, *, key: str | None = None) -> None:
        """Called from ``render`` to add an informative line under the controls.

        A note with the ``key`` of an earlier one replaces it where it stands.
        """
        # Checked here, inside render: a number failed later in the join of the message line,
        # outside refresh's guard, as a TypeError escaping the control's observer.
        self._notes[object() if key is None else key] = _validate.text("text", text)

    def render(self) -> dict[str, go.Figure | str]:
        """The content of every view: name → figure (for a "figure" view) or HTML."""
        raise NotImplementedError

    def check_modules(self) -> None:
        """InputError naming the first of the learner's modules (``MODULES``) whose weights hold
        NaN or infinity: a model whose training diverged. Every number it computes is NaN, drawn
        as blank heatmaps with no word why, or failing deep in a figure or a sampler."""
        # Meta weights are refused here where the explorer computes on another device: a CPU
        # tensor times a meta weight gives CPU numbers read from uninitialised memory (QKVExplorer
        # drew "scores highest … (32768.60)"). Where the explorer itself works on the meta device
        # (a test's spy embedding answers with CPU vectors), only a failure names them (``refresh``).
        device = getattr(self, "device", None)
        on_meta = isinstance(device, torch.device) and device.type == "meta"
        for attr in self.MODULES:
            module = getattr(self, attr, None)
            problem = nonfinite_problem(attr, module) or (None if on_meta else meta_problem(attr, module))
            if problem:
                raise InputError(problem)

    def _modules(self) -> dict[str, torch.nn.Module]:
        """The learner's modules (``MODULES``) that are torch modules, by attribute name."""
        found = {attr: getattr(self, attr, None) for attr in self.MODULES}
        return {attr: m for attr, m in found.items() if isinstance(m, torch.nn.Module)}

    def _too_large(self) -> str | None:
        """After a failure: ``overflow_problem`` for the first of the learner's modules with a
        weight of ``HUGE_WEIGHT`` or more. Its layers' outputs can stay finite (an embedding
        filled with 3e38) while what the explorer computes from them overflows ("vectors must
        be finite"), which ``watched_outputs`` does not see."""
        for name, module in self._modules().items():
            top = _validate.largest_weight(module)
            if top is not None and not top[1] < HUGE_WEIGHT:
                return overflow_problem(name, module)
        return None

    def module_on_meta(self) -> str | None:
        """``meta_problem`` of the first of the learner's modules (``MODULES``) on the meta device."""
        problems = (meta_problem(attr, getattr(self, attr, None)) for attr in self.MODULES)
        return next((p for p in problems if p), None)

    def check_controls(self) -> None:
        """InputError naming the first control ``render`` cannot read (``control_problem``)."""
        for name, control in self.controls.items():
            problem = control_problem(name, control, self._ranges.get(name), self._choices.get(name))
            if problem:
                raise InputError(problem)

    def _keep_rendered_options(self, before: dict[str, tuple]) -> None:
        """After ``render``: the options of the lists it rebuilt (``before``: theirs as it began)
        become the ones ``control_problem`` names; options code changed between renders never do."""
        for name, options in before.items():
            now = choice_options(self.controls[name])
            if now != options:
                self._choices[name] = now

    def refresh(self) -> None:
        self._notes = {}
        overflowed: list[str] = []  # a module of MODULES whose outputs came out NaN or inf
        try:
            self.check_controls()
            self.check_modules()
            # unchecked: the figure functions checked their arguments.
            options = {n: choice_options(self.controls[n]) for n in self._choices}  # before render
            with live_figures(), unchecked(), watched_outputs(self._modules()) as overflowed:
                self._rendering = True
                try:
                    content = self.render()
                finally:
                    self._rendering = False
                    self._keep_rendered_options(options)
            if overflowed:  # drawn, but from NaN: blank cells, "scores highest against … (nan)"
                raise InputError(overflow_problem(overflowed[0], getattr(self, overflowed[0])))
            # Every figure's JSON first (content for a view the explorer lacks, or a figure that
            # cannot be drawn: a message like any error), then all of them sent back to back: the
            # page draws the figures that arrive within one frame together (static/figure_view.js).
            self._check_content(content)
            specs = {
                name: figure_json(item)
                for name, item in content.items()
                if isinstance(self.views[name], FigureView)
            }
        except InputError as err:
            # A failure that NaN outputs caused (a check further in: "logits must hold finite
            # numbers") is told as what caused it.
            self._say(
                overflow_problem(overflowed[0], getattr(self, overflowed[0])) if overflowed else str(err),
                error=True,
            )
            return
        except Exception as err:  # a widget never shows a traceback; the message says what broke
            # A model on the meta device fails deep inside ("ids must hold data, got a meta
            # tensor"), blaming the ids: the message names the model's weights instead. One
            # whose outputs overflowed fails further in, naming an argument of a figure.
            if overflowed:
                self._say(overflow_problem(overflowed[0], getattr(self, overflowed[0])), error=True)
                return
            problem = self.module_on_meta() or self._too_large()
            self._say(problem or f"Could not update the figures ({type(err).__name__}: {err}).", error=True)
            return
        for name, item in content.items():
            view = self.views[name]
            if isinstance(view, FigureView):
                view.show(item, specs[name])
            else:
                view.value = item
        self._say(" ".join(self._notes.values()), error=False)

    def _check_content(self, content: object) -> None:
        """``render``'s result: a dict of views it has, a figure for a figure view, HTML for the
        others (anything else would fail while the page is updated, half of it drawn)."""
        for name, item in content.items() if isinstance(content, Mapping) else [(None, content)]:
            view = self.views.get(name)
            want = go.Figure if isinstance(view, FigureView) else str
            if view is None or not isinstance(item, want):
                raise TypeError(
                    f"render() must return a dict view name ({', '.join(self.views)}) → a go.Figure "
                    f"for a figure view, an HTML str for the others; got {name!r}: {type(item).__name__}"
                )

    def _on_change(self, _change) -> None:
        # A render may move a control itself: a slider's new max clamps its value. The render
        # reads the value after that, so a second render inside it would only repeat its work
        # (and its notes).
        if not self._rendering:
            self.refresh()

    def _say(self, text: str, *, error: bool) -> None:
        if not text:
            self.message.value = ""
            return
        if len(text) > MAX_MESSAGE:
            text = text[: MAX_MESSAGE - 1] + "…"
        # JupyterLab's own text colour (≥ 4.5:1 on its background in the light and dark themes;
        # the fallback is for pages without JupyterLab's CSS). An error is marked by its icon
        # and a red bar, not by red text, which no single colour keeps readable in both themes.
        style = "color:var(--jp-ui-font-color1,#374151);padding:4px 0"
        if error:
            style += ";border-left:4px solid var(--jp-error-color1,#b91c1c);padding-left:8px"
        self.message.value = (
            f'<div class="tc-message{" tc-error" if error else ""}" style="{style}">'
            f"{'⚠' if error else 'ℹ'} {html.escape(text)}</div>"
        )


def read_sentence(
    text: str,
    vocab: Vocab,
    *,
    label: str = "sentence",
    max_tokens: int = MAX_TOKENS,
    example: str = "tell me about pizza",
    why: str | None = None,
) -> tuple[list[str], torch.Tensor, list[str]]:
    """Text box content → (tokens, ids (T,), unknown words), or InputError with a fix to try
    (``example``: what an empty box is told to try; ``why``: why at most ``max_tokens`` fit,
    where the model sets the limit, e.g. "the model reads at most 8 positions")."""
    _validate.instance("vocab", vocab, Vocab)  # None would fail as "not iterable" below
    # By name: "5" or None failed as "'>' not supported", NaN let any length through.
    max_tokens = _validate.positive_int("max_tokens", max_tokens)
    label, example = _validate.text("label", label), _validate.text("example", example)
    why = None if why is None else _validate.text("why", why)
    tokens = tokenize(text)
    if not tokens:
        raise InputError(f"The {label} box is empty: type a few words, e.g. '{example}'.")
    if len(tokens) > max_tokens:
        limit = why or f"this explorer shows at most {max_tokens}"
        raise InputError(f"The {label} has {len(tokens)} tokens; {limit}. Try a shorter one.")
    unknown = [t for t in tokens if t not in vocab]
    return tokens, torch.tensor(vocab.ids(tokens)), unknown


def unknown_note(unknown: list[str]) -> str:
    """The note naming the words not in the vocabulary (a list: a str was read letter by letter)."""
    distinct = list(dict.fromkeys(_validate.strings("unknown", unknown, "words")))
    which = "it gets" if len(distinct) == 1 else "they share"
    return f"Not in the vocabulary, so {which} the <unk> vector: {quote_list(distinct)}."


class SentenceExplorer(Explorer):
    """An explorer that reads sentences typed by the learner and runs them through a model.

    In ``render``: ``tokens, ids = self.read(self.value("text"))`` parses a box (InputError
    when it is empty or too long; unknown words are named in one note per update), then
    ``self.embed(ids)`` looks the ids up on the device of ``embedding``: the model may live
    on CPU or CUDA. Figures and the state kept for tests are CPU tensors: bring results
    back with ``.cpu()`` before drawing them. A public method that takes ids from code checks
    them with ``self.check_ids(ids, ndim=...)``: a ValueError naming them, not a torch error.
    """

    MODULES = ("embedding",)

    def __init__(
        self,
        vocab: Vocab,
        embedding: torch.nn.Module,
        controls: Mapping[str, widgets.ValueWidget],
        views: Mapping[str, str],
    ):
        """``embedding``: ids (..., T) → vectors (..., T, d_model) with a ``weight`` table, e.g. a
        ``TokenEmbedding``; the ids go to the device of that table."""
        check_embedding(vocab, embedding)
        self.vocab, self.embedding = vocab, embedding
        self._unknown: list[str] = []
        super().__init__(controls, views)

    @property
    def device(self) -> torch.device:
        """Where the model lives, so where its inputs must go."""
        return self.embedding.weight.device

    def read(
        self, text: str, *, label: str = "sentence", max_tokens: int = MAX_TOKENS, why: str | None = None
    ) -> tuple[list[str], torch.Tensor]:
        """Text → (tokens, ids (T,) on the CPU), or InputError (``why``: as ``read_sentence``);
        notes the words not in ``vocab``."""
        tokens, ids, unknown = read_sentence(text, self.vocab, label=label, max_tokens=max_tokens, why=why)
        if unknown:
            self._unknown += unknown  # every box read in this update, in one note
            self.note(unknown_note(self._unknown), key="unknown")
        return tokens, ids

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` (ids, a mask) moved to the model's device."""
        _validate.tensor("tensor", tensor)  # a list failed as "'list' object has no attribute 'to'"
        return tensor.to(self.device)

    def check_ids(self, ids: object, ndim: int | None = None) -> torch.Tensor:
        """``ids``: a tensor of int64 (or int32) ids of ``vocab``, ``ndim``-D (any, if None), checked
        by name. A list or an id past the table failed as "'list' object has no attribute 'to'" or
        an IndexError deep in the embedding, a (1, T) batch for (T,) in a matmul of the heads."""
        _validate.tensor("ids", ids, ndim=ndim, floating=False)
        _validate.index_dtype("ids", ids)
        _validate.ids_in_range("ids", ids, len(self.vocab))
        return ids

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (..., T) → vectors (..., T, d_model), computed on the model's device (``evaluating``)."""
        self.check_ids(ids)
        with evaluating(self.embedding):
            return self.embedding(self.to_device(ids))

    def refresh(self) -> None:
        self._unknown = []
        super().refresh()
