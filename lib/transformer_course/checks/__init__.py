"""Exercise checkers: run a learner's function against the reference and name the mistake.

Chapters call ``checks.check_<name>(their_function)``. Contract for every "your turn" cell:
- the starter raises ``NotImplementedError``; the checker then reports "not attempted yet"
  and does not raise, so an untouched notebook still runs top to bottom;
- a wrong answer gets a precise hint when the output matches a known mistake (``Mistake``),
  otherwise the first input where it differs and how;
- the checker returns a ``Result`` (shown as a coloured box); the worked solution's cell
  asserts ``result.passed``.

Layout: ``harness`` (check_function: run, compare, name the mistake; it re-exports what it
is split into: ``result``, the verdict; ``records``, Mistake and Exercise; ``random_draws``;
``cases``) and ``describe`` (compare, and say how a result differs); one module per idea
holding its exercises: ``embeddings`` (01), ``positions`` (02), ``attention`` (03 scores),
``softmax`` and ``head`` (04), ``multi_head`` (05), ``masks`` (06), ``feed_forward``,
``layer_norm``, ``add_norm``, ``encoder_layer``, ``layers`` (the decoder layer) and
``assembly`` (the encoder-decoder forward) (07), ``loss`` (the shifted-target loss), ``train_step``,
``generation`` (greedy decoding) and ``sampling`` (temperature and top-k) (08),
``gpt_forward`` (the GPT's forward pass from its parts), ``nucleus`` (the tokens top-p
keeps) and ``cached_step`` (one attention step with a KV cache) (09); and
``registry`` (every exercise, in chapter order). A module that grew keeps what learners write
apart in ``<module>_learners`` (``by_hand``, the other correct answers, each mistake's
example as code), which it imports as ``learner`` and which never imports it back; and may
keep part of its checker's side in a module of its own, which it imports: ``loss_reference``
(the loss's reference and its switches), ``loss_reductions`` (the loss's masks and reductions
gone wrong), ``loss_errors`` (the errors a learner's loss raises), ``sampling_draws`` (draws
read as frequencies), ``gpt_parts`` (GptParts, the reference forward pass and its cases),
``cached_step_reference`` (the reference step, its variants and cases), ``learner_lines`` (the
line of the learner's code that raised), ``head_variants`` (one head or its mistakes),
``masks_reference`` (the masked weights and their cases), ``attention_scalings`` (the scores'
scalings, told apart on a probe). More of a catalogue goes in ``<module>_more`` or
``<module>_slips``. ``gradients``: a right answer whose result carries no gradient is wrong
where later chapters train through it (``check_function(..., needs_grad=True)``).

How to add an exercise:
1. In the module of its idea (or a new module, kept under ~350 lines), write the learner's
   side: ``starter`` (raises NotImplementedError), a worked ``solution``, and correct
   ``ALTERNATIVES`` (lib's own function, a loop, einsum, float64, …);
2. then the checker's side: the reference, test cases from an explicit ``torch.Generator``
   (cases that tell the mistakes apart), and ``MISTAKES``: each ``Mistake`` with its
   ``hint``, the ``compute`` that recognises it, and an ``example`` written as a learner
   would write the mistake;
3. ``check_<name>(learner_fn)`` calls ``check_function`` and is decorated with
   ``@learner_check`` (``stale``: a function whose cell last failed is not judged); list an
   ``Exercise`` in the module's ``EXERCISES``, add a new module to ``registry.MODULES``, and
   re-export ``check_<name>`` below.
``tests/test_exercises.py`` then covers it: the solution and every alternative pass, each
mistake's example gets its own hint and no other, the starter reports "not attempted",
the global random state is untouched, errors and in-place changes are handled. A right
answer that changed its inputs in place passes with a warning that names the operation
(``in_place``, for every exercise; ``updates_in_place=True`` where changing them is the job).
"""

from .add_norm import check_add_norm
from .assembly import Seq2SeqParts, check_encoder_decoder_forward
from .attention import check_attention_scores
from .cached_step import check_cached_attention_step
from .embeddings import check_cosine_similarity
from .encoder_layer import check_encoder_layer
from .feed_forward import check_feed_forward
from .generation import check_greedy_decode
from .gpt_forward import GptParts, check_gpt_forward
from .harness import (
    ERROR,
    NOT_ATTEMPTED,
    PASSED,
    WRONG,
    Exercise,
    Mistake,
    Result,
    check_function,
    check_then_batch,
    describe_difference,
    same,
    varies_between_calls,
)
from .head import check_attention
from .layer_norm import check_layer_norm
from .layers import check_decoder_layer
from .loss import check_teacher_forcing_loss
from .masks import check_causal_masked_weights
from .multi_head import check_multi_head_attention
from .nucleus import check_keep_top_p
from .positions import check_sinusoidal_encoding
from .registry import EXERCISES, exercise
from .sampling import check_sample_next_token
from .softmax import check_softmax
from .train_step import check_train_step

__all__ = [
    "ERROR",
    "EXERCISES",
    "NOT_ATTEMPTED",
    "PASSED",
    "WRONG",
    "Exercise",
    "GptParts",
    "Mistake",
    "Result",
    "Seq2SeqParts",
    "check_add_norm",
    "check_attention",
    "check_attention_scores",
    "check_cached_attention_step",
    "check_causal_masked_weights",
    "check_cosine_similarity",
    "check_decoder_layer",
    "check_encoder_decoder_forward",
    "check_encoder_layer",
    "check_feed_forward",
    "check_function",
    "check_gpt_forward",
    "check_greedy_decode",
    "check_keep_top_p",
    "check_layer_norm",
    "check_multi_head_attention",
    "check_sample_next_token",
    "check_sinusoidal_encoding",
    "check_softmax",
    "check_teacher_forcing_loss",
    "check_then_batch",
    "check_train_step",
    "describe_difference",
    "exercise",
    "same",
    "varies_between_calls",
]
