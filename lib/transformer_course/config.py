"""The sizes and choices of a whole model, in one frozen dataclass: ``TransformerConfig``.

Every model in ``model`` (and the stacks in ``stacks``) is built from a config, so one
object says what a model is; ``config.replace(d_model=64)`` gives a changed copy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from . import _validate
from .layers import check_activation

POSITIONALS = ("sinusoidal", "learned")
# Deepest stack: the course's models have 1 to 6 layers, the paper's 6; a million would take
# minutes to build before failing for memory.
MAX_LAYERS = 1000


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes and choices of a model. The defaults are the paper's base model (Table 3),
    with one exception: ``final_norm=True`` puts a LayerNorm after each stack, as
    ``nn.Transformer`` does (and as pre-norm models need). The paper's post-norm model
    has none, its last sublayer already ending in a LayerNorm: ``final_norm=False`` is
    the paper's exact model, 2 · 2 · d_model parameters smaller."""

    vocab_size: int = 37000  # shared source/target vocabulary of byte-pair tokens (English-German)
    trg_vocab_size: int | None = None  # None: the target uses the same vocabulary as the source
    d_model: int = 512  # width of every token vector between the layers
    num_heads: int = 8  # h; each head works in d_model / h = 64 dimensions
    num_encoder_layers: int = 6  # N for the encoder (also the depth of an encoder-only model)
    num_decoder_layers: int = 6  # N for the decoder (also the depth of a decoder-only model)
    d_ff: int = 2048  # inner width of the position-wise feed-forward network
    dropout: float = 0.1  # P_drop: on attention weights, sublayer outputs, embeddings
    max_len: int = 512  # longest sequence the positional encoding covers
    pad_id: int = 0  # id of <pad>: masked out as a key everywhere (Vocab.pad_id)
    norm_first: bool = False  # False: post-norm as in the paper; True: pre-norm (GPT-2 onwards)
    final_norm: bool = (
        True  # LayerNorm after each stack: nn.Transformer's, not the paper's (vital for pre-norm)
    )
    # "relu" (the paper) or "gelu" (BERT, GPT); F.gelu or nn.GELU(), as PyTorch takes, become "gelu"
    activation: str = "relu"
    tie_embeddings: bool = True  # one matrix for the embeddings and the output projection (section 3.4)
    positional: str = "sinusoidal"  # "sinusoidal" (the paper) or "learned" (BERT, GPT)
    eps: float = 1e-5  # LayerNorm's epsilon, as in PyTorch
    bias: bool = True  # False: no bias in any Linear, LayerNorm or output layer (nn.Transformer(bias=False))

    def __post_init__(self):
        sizes = (
            "vocab_size",
            "d_model",
            "num_heads",
            "num_encoder_layers",
            "num_decoder_layers",
            "d_ff",
            "max_len",
        )
        # Each kept as a Python int: a numpy one (np.int64(16)) passed every check, yet
        # generation, which reads max_len and vocab_size as ints, skipped its checks up front.
        for name in sizes:
            object.__setattr__(self, name, _validate.positive_int(name, getattr(self, name)))
        for name in ("num_encoder_layers", "num_decoder_layers"):
            check_depth(name, getattr(self, name))
        if self.trg_vocab_size is not None:
            object.__setattr__(
                self, "trg_vocab_size", _validate.positive_int("trg_vocab_size", self.trg_vocab_size)
            )
        for name in ("vocab_size", "trg_vocab_size"):
            _check_vocab_size(name, getattr(self, name))
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})")
        # Kept as a float, as the layers keep theirs: a Fraction passed the check, then failed
        # inside torch's dropout and layer_norm ("argument 'p' must be float, not Fraction").
        object.__setattr__(self, "dropout", _validate.dropout(self.dropout))
        object.__setattr__(
            self, "pad_id", _validate.integer("pad_id", self.pad_id, low=0, high=self.vocab_size)
        )
        # The target pads with pad_id too (its masks, the loss's ignore_index): an id of both.
        if self.pad_id >= self.target_vocab_size:
            raise ValueError(
                f"pad_id must be an id of the target vocabulary too (< trg_vocab_size = "
                f"{self.trg_vocab_size}), got {self.pad_id}"
            )
        for name in ("norm_first", "final_norm", "tie_embeddings", "bias"):
            _validate.boolean(name, getattr(self, name))
        # Kept as its name: F.gelu or nn.GELU() (which PyTorch's layers also take) become "gelu".
        object.__setattr__(self, "activation", check_activation(self.activation))
        if not isinstance(self.positional, str) or self.positional not in POSITIONALS:
            raise ValueError(f"positional must be one of {POSITIONALS}, got {self.positional!r}")
        object.__setattr__(self, "eps", _validate.finite_number("eps", self.eps, above=0))

    @property
    def target_vocab_size(self) -> int:
        return self.vocab_size if self.trg_vocab_size is None else self.trg_vocab_size

    @property
    def d_head(self) -> int:
        return self.d_model // self.num_heads

    def replace(self, **changes) -> TransformerConfig:
        """A copy with some fields changed, e.g. ``config.replace(dropout=0.0)``."""
        return dataclasses.replace(self, **changes)


def check_depth(name: str, num_layers: object) -> int:
    """A number of layers: a positive int, at most ``MAX_LAYERS``."""
    num_layers = _validate.positive_int(name, num_layers)
    if num_layers > MAX_LAYERS:
        raise ValueError(f"{name} must be at most {MAX_LAYERS}, got {num_layers}")
    return num_layers


def _check_vocab_size(name: str, size: int | None) -> None:
    """A vocabulary of <pad> and at least one token: a model of one token (pad_id's) had every
    key masked and nothing to predict, and was built without a word."""
    if size is not None and size < 2:
        raise ValueError(f"{name} must be at least 2 (<pad> and a token to predict), got {size}")


def check_config(config: object) -> TransformerConfig:
    if not isinstance(config, TransformerConfig):
        raise ValueError(f"config must be a TransformerConfig, got {type(config).__name__}")
    return config
