"""Whole models: encoder-decoder, decoder-only, encoder-only.

Each is an embedding front and one or two stacks (``stacks``) sized by a
``TransformerConfig`` (``config``), with an output projection to the vocabulary; what the
three share (embeddings, output, initialisation, id checks, masks) is ``model_base``.

Calling convention (batch first, ids are integer tensors):

- ``Transformer(config)(src, trg_in)``: src (B, Ls), trg_in (B, Lt) → logits (B, Lt, V).
  For training, ``trg_in = trg[:, :-1]`` and the labels are ``trg[:, 1:]``: the decoder
  reads the target shifted right by one and predicts the next token at each position.
- ``DecoderOnlyTransformer(config)(ids)`` → logits (B, L, V), next-token prediction (GPT).
  Generating with a KV cache: ``cache = model.new_cache()``, then ``model.step(ids, cache)``
  on the prompt (B, t0) and on each new token (B, 1): logits for those positions only.
- ``EncoderOnlyTransformer(config)(ids)`` → logits (B, L, V) over the vocabulary at every
  position (BERT's masked-word head); ``.encode(ids)`` gives the hidden states (B, L, d).

The models build their masks from the ids: padding (``config.pad_id``) is never attended
to, and the decoder's self-attention is causal. True = may attend, as everywhere in lib.

Attention weights for figures: call with ``need_weights=True``, then
``model.attention_weights()`` → {"encoder_self" | "decoder_self" | "cross": [one
(B, h, Lq, Lk) tensor per layer]}. Everything runs on the device of the inputs.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from . import _validate
from .config import TransformerConfig, check_config
from .embeddings import TokenEmbedding
from .kv_cache import KVCache, _key_dtype
from .model_base import _LanguageModelBase
from .stacks import Decoder, Embed, Encoder

__all__ = [
    "ATTENTION_KINDS",
    "Decoder",
    "DecoderOnlyTransformer",
    "Encoder",
    "EncoderOnlyTransformer",
    "KVCache",
    "Transformer",
    "TransformerConfig",
    "count_parameters",
    "shape_trace",
]

ATTENTION_KINDS = ("encoder_self", "decoder_self", "cross")


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of parameters; a tied (shared) matrix counts once."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    _validate.boolean("trainable_only", trainable_only)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class Transformer(_LanguageModelBase):
    """The encoder-decoder Transformer of "Attention Is All You Need".

    src (B, Ls), trg_in (B, Lt) → logits (B, Lt, V_trg). With ``tie_embeddings`` and a
    shared vocabulary, one (V, d_model) matrix is the source embedding, the target
    embedding and the output projection.
    """

    def __init__(self, config: TransformerConfig | None = None):
        super().__init__()
        self.config = config = TransformerConfig() if config is None else config
        check_config(config)
        shared = config.tie_embeddings and config.trg_vocab_size is None
        vocabularies = (config.vocab_size,) if shared else (config.vocab_size, config.target_vocab_size)
        self._check_fits(vocabularies, 2, config.num_encoder_layers, config.num_decoder_layers)
        src_token = self._make_token_embedding(config.vocab_size)
        trg_token = src_token if shared else self._make_token_embedding(config.target_vocab_size)
        self.src_embed = Embed(src_token, config)
        self.trg_embed = Embed(trg_token, config)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.output = self._make_output(trg_token, config.target_vocab_size)
        self._init_weights()

    def _output_table(self) -> TokenEmbedding:
        return self.trg_embed.token  # the source's too, when the vocabulary is shared

    def encode(self, src: torch.Tensor, *, need_weights: bool = False) -> torch.Tensor:
        """src (B, Ls) → memory (B, Ls, d_model), the encoder's output."""
        self._check_ids("src", src, self.config.vocab_size)
        _validate.boolean("need_weights", need_weights)
        return self.encoder(self.src_embed(src), self.padding_mask(src), need_weights=need_weights)

    def decode(
        self, trg_in: torch.Tensor, memory: torch.Tensor, src: torch.Tensor, *, need_weights: bool = False
    ) -> torch.Tensor:
        """trg_in (B, Lt), memory (B, Ls, d_model), src (B, Ls) for its padding → logits (B, Lt, V)."""
        self._check_ids("trg_in", trg_in, self.config.target_vocab_size)
        self._check_ids("src", src, self.config.vocab_size)
        _validate.tensor("memory", memory, ndim=3, floating=True)
        _validate.boolean("need_weights", need_weights)
        if memory.shape[:2] != src.shape:
            raise ValueError(
                f"memory must have shape (B, Ls, d_model) = ({src.shape[0]}, {src.shape[1]}, "
                f"{self.config.d_model}) to match src, got {tuple(memory.shape)}"
            )
        if trg_in.shape[0] != src.shape[0]:
            raise ValueError(
                f"trg_in must have the batch size of src ({src.shape[0]}), got shape {tuple(trg_in.shape)}"
            )
        h = self.decoder(
            self.trg_embed(trg_in),
            memory,
            self.causal_padding_mask(trg_in),
            self.padding_mask(src),
            need_weights=need_weights,
        )
        return self.output(h)

    def forward(self, src: torch.Tensor, trg_in: torch.Tensor, *, need_weights: bool = False) -> torch.Tensor:
        """src (B, Ls), trg_in (B, Lt) → logits (B, Lt, V_trg)."""
        self._check_ids("src", src, self.config.vocab_size)
        self._check_ids("trg_in", trg_in, self.config.target_vocab_size)
        if trg_in.shape[0] != src.shape[0]:
            raise ValueError(
                f"trg_in must have the batch size of src ({src.shape[0]}), got shape {tuple(trg_in.shape)}"
            )
        memory = self.encode(src, need_weights=need_weights)
        return self.decode(trg_in, memory, src, need_weights=need_weights)

    def attention_weights(self) -> dict[str, list[torch.Tensor | None]]:
        """From the last call with ``need_weights=True``: kind → one (B, h, Lq, Lk) per layer.

        Kinds: "encoder_self" (Ls × Ls), "decoder_self" (Lt × Lt), "cross" (Lt × Ls).
        """
        return {"encoder_self": self.encoder.attention_weights(), **self.decoder.attention_weights()}

    @torch.no_grad()
    def load_from_torch(self, transformer: nn.Transformer) -> Transformer:
        """Copy every layer (and the final norms) of an ``nn.Transformer`` of the same shape.

        nn.Transformer has no embeddings or output layer: those stay as they are.
        """
        if not isinstance(transformer, nn.Transformer):
            raise ValueError(f"transformer must be an nn.Transformer, got {type(transformer).__name__}")
        self.encoder.load_from_torch(transformer.encoder, "transformer.encoder")
        self.decoder.load_from_torch(transformer.decoder, "transformer.decoder")
        return self


class DecoderOnlyTransformer(_LanguageModelBase):
    """GPT-style: ids (B, L) → next-token logits (B, L, V).

    No encoder and no cross-attention: a stack of ``config.num_decoder_layers`` blocks of
    masked self-attention + feed-forward. Such a block is exactly an ``EncoderLayer``
    given the causal mask, so that is what it is built from.
    """

    def __init__(self, config: TransformerConfig | None = None):
        super().__init__()
        self.config = config = TransformerConfig() if config is None else config
        check_config(config)
        self._check_fits((config.vocab_size,), 1, config.num_decoder_layers, 0)  # its blocks: encoder layers
        token = self._make_token_embedding(config.vocab_size)
        self.embed = Embed(token, config)
        self.blocks = Encoder(config, config.num_decoder_layers)
        self.output = self._make_output(token, config.vocab_size)
        self._init_weights()

    def forward(self, ids: torch.Tensor, *, need_weights: bool = False) -> torch.Tensor:
        """ids (B, L) → logits (B, L, V): row i scores the token after ids[:, : i + 1]."""
        self._check_ids("ids", ids, self.config.vocab_size)
        _validate.boolean("need_weights", need_weights)
        x = self.embed._forward(ids)  # (B, L, d_model); ids checked once, here
        # Under vmap the ids cannot be looked at, and torch.jit.trace would keep this run's branch
        # for every later input: the mask path is right with or without padding.
        if _validate.mapped(ids) or torch.jit.is_tracing() or bool((ids == self.config.pad_id).any()):
            h = self.blocks._forward(x, self.causal_padding_mask(ids), need_weights=need_weights)
        else:  # no padding: the mask is only causal, which PyTorch's fused kernel needs no tensor for
            h = self.blocks._forward(x, need_weights=need_weights, causal=True)
        return self.output(h)

    def new_cache(self) -> KVCache:
        """An empty KV cache for ``step``, with room for ``config.max_len`` positions."""
        return KVCache(len(self.blocks.layers), self.config.max_len)

    # Dynamo skips this frame, not the ones it calls: compiled, _checked_step is the graph.
    @torch.compiler.disable(recursive=False)
    def step(self, ids: torch.Tensor, cache: KVCache, *, need_weights: bool = False) -> torch.Tensor:
        """The new tokens ids (B, T), after the t in ``cache`` → their logits (B, T, V).

        The cached tokens are not run again: each layer reads their keys and values from
        ``cache`` and adds the new tokens' (the cache grows by T). Give an empty cache the
        prompt (T = its length), then one token at a time (T = 1): the logits are those
        ``forward`` computes at the same positions of the whole sequence. With
        ``need_weights``, ``attention_weights()`` holds the new tokens' attention over all
        t + T positions, one (B, h, T, t + T) per layer. Runs under ``torch.no_grad()``:
        a cache that kept every step's graph would only grow.

        ``torch.compile(model.step, fullgraph=True)`` compiles ``_checked_step`` whole; this
        frame stays Python, so its ``no_grad`` is left when the graph raises (ids out of the
        vocabulary, a cache it cannot write). Traced into the graph, as a decorator was, the
        "eager" backend left gradients off after such an error, and a later training cell
        learnt nothing. The cost: a compiled function that calls ``step`` inside it breaks
        its graph here (fullgraph=True refuses it).
        """
        with torch.no_grad():
            return self._checked_step(ids, cache, need_weights)

    def _checked_step(self, ids: torch.Tensor, cache: KVCache, need_weights: bool) -> torch.Tensor:
        """``step``'s checks, then ``_step``: the frame torch.compile traces."""
        self._check_ids("ids", ids, self.config.vocab_size)  # checked once, here: not again inside
        self._check_cache(cache)
        _validate.boolean("need_weights", need_weights)
        return self._step(ids, cache, need_weights)

    def _step(self, ids: torch.Tensor, cache: KVCache, need_weights: bool = False) -> torch.Tensor:
        """``step`` on ids and a cache already checked (``cached_logits_fn`` checks its prefix
        under that name), under ``torch.no_grad()``."""
        start = cache.add_ids(ids)  # t, the position of the first new token
        if cache._owner is None:  # its first step: from now on the cache is this model's
            cache._owner = weakref.ref(self)
        x = self.embed._forward(ids, start)  # (B, T, d_model), positions t … t + T - 1
        mask = self._new_tokens_mask(cache.ids, ids.shape[1])
        h = self.blocks._forward_cached(x, cache, mask, need_weights=need_weights)  # (B, T, d_model)
        return self.output(h)

    def _new_tokens_mask(self, ids: torch.Tensor, new: int) -> torch.Tensor | None:
        """ids (B, t + T), every token so far, the last T new → (B, 1, T, t + T): new token i
        may attend to positions ≤ t + i that are not padding. None when one new token may
        attend to every position (no padding): the common case, which needs no mask."""
        # Compiled (torch.compile(model.step, fullgraph=True)), the ids cannot be read: the
        # padding mask is made whether or not there is padding, the same attention either way.
        if new == 1 and not _validate.mapped(ids) and not bool((ids == self.config.pad_id).any()):
            return None
        allowed = self.padding_mask(ids)  # (B, 1, 1, t + T)
        if new > 1:  # e.g. the prompt: each new token must not see the new ones after it
            t = ids.shape[1] - new
            allowed = allowed & torch.ones(new, ids.shape[1], dtype=torch.bool, device=ids.device).tril(t)
        return allowed

    def _check_cache(self, cache: KVCache) -> None:
        if not isinstance(cache, KVCache):
            raise ValueError(f"cache must be a KVCache (model.new_cache()), got {type(cache).__name__}")
        # The keys a cache holds are one model's: another model of the same sizes would attend
        # over them without an error, and write nonsense. A cache is the model's whose step
        # filled it first (one filled layer by layer, by hand, belongs to no model).
        owner = cache._owner() if cache._owner is not None else self
        if owner is not self:
            raise ValueError(
                "cache must come from this model's new_cache(): it holds the keys and values "
                f"another model computed ({type(owner).__name__ if owner else 'a model since deleted'})"
            )
        c, k = self.config, cache.keys[0]
        fields = ["layers", "max_len"]
        got, want = (cache.num_layers, cache.max_len), (len(self.blocks.layers), c.max_len)
        if k is not None:  # already filled: its keys must be shaped like this model's
            fields += ["heads", "d_head", "dtype"]
            got += (k.shape[1], k.shape[3], k.dtype)
            want += (c.num_heads, c.d_head, _key_dtype(self.output.weight))  # autocast's, under autocast
        if got != want:
            # An empty cache is compared on (layers, max_len) only: the names match the values shown.
            later = (
                " (a cache goes on in the dtype, and under the autocast, it was filled in)"
                if k is not None
                else ""
            )
            raise ValueError(
                f"cache must come from this model's new_cache(): it has ({', '.join(fields)}) = {got}, "
                f"the model {want}{later}"
            )

    def attention_weights(self) -> dict[str, list[torch.Tensor | None]]:
        """{"decoder_self": one (B, h, L, L) per layer} from the last call with ``need_weights=True``
        (after ``step``: (B, h, T, t + T), the new tokens' rows)."""
        return {"decoder_self": self.blocks.attention_weights()}


class EncoderOnlyTransformer(_LanguageModelBase):
    """BERT-style: ids (B, L) → logits (B, L, V) at every position; every token sees every other.

    ``encode`` returns the hidden states (B, L, d_model) that a classifier would read.
    """

    def __init__(self, config: TransformerConfig | None = None):
        super().__init__()
        self.config = config = TransformerConfig() if config is None else config
        check_config(config)
        self._check_fits((config.vocab_size,), 1, config.num_encoder_layers, 0)
        token = self._make_token_embedding(config.vocab_size)
        self.embed = Embed(token, config)
        self.encoder = Encoder(config)
        self.output = self._make_output(token, config.vocab_size)
        self._init_weights()

    def encode(self, ids: torch.Tensor, *, need_weights: bool = False) -> torch.Tensor:
        """ids (B, L) → hidden states (B, L, d_model)."""
        self._check_ids("ids", ids, self.config.vocab_size)
        _validate.boolean("need_weights", need_weights)
        return self.encoder(self.embed(ids), self.padding_mask(ids), need_weights=need_weights)

    def forward(self, ids: torch.Tensor, *, need_weights: bool = False) -> torch.Tensor:
        return self.output(self.encode(ids, need_weights=need_weights))

    def attention_weights(self) -> dict[str, list[torch.Tensor | None]]:
        """{"encoder_self": one (B, h, L, L) per layer} from the last call with ``need_weights=True``."""
        return {"encoder_self": self.encoder.attention_weights()}


def shape_trace(model: Transformer, src: torch.Tensor, trg_in: torch.Tensor) -> list[tuple[str, tuple, str]]:
    """Run ``model`` on src (B, Ls), trg_in (B, Lt) and list (stage, shape, meaning) at every step.

    The shapes are read from the real tensors of this run, not written by hand.
    """
    if not isinstance(model, Transformer):
        raise ValueError(f"model must be a Transformer, got {type(model).__name__}")
    model._check_ids("src", src, model.config.vocab_size)
    model._check_ids("trg_in", trg_in, model.config.target_vocab_size)
    c = model.config
    with torch.no_grad():
        src_x = model.src_embed(src)
        memory = model.encode(src, need_weights=True)
        model.decode(trg_in, memory, src)  # checks trg_in against src and memory
        trg_x = model.trg_embed(trg_in)
        hidden = model.decoder(
            trg_x, memory, model.causal_padding_mask(trg_in), model.padding_mask(src), need_weights=True
        )
        logits = model.output(hidden)
    weights = model.attention_weights()
    n_enc, n_dec = len(weights["encoder_self"]), len(weights["decoder_self"])
    return [
        ("src ids", tuple(src.shape), "B sentences × Ls source tokens"),
        ("src embedding · √d + position", tuple(src_x.shape), f"each token → d_model = {c.d_model} numbers"),
        (
            "encoder self-attention weights",
            tuple(weights["encoder_self"][0].shape),
            f"per layer: B × h × Ls queries × Ls keys ({n_enc} layer{'' if n_enc == 1 else 's'})",
        ),
        ("memory = encoder output", tuple(memory.shape), "the same shape as its input, after every layer"),
        ("trg_in ids = trg[:, :-1]", tuple(trg_in.shape), "B × Lt target tokens, shifted right"),
        ("trg embedding · √d + position", tuple(trg_x.shape), "each target token → d_model numbers"),
        (
            "decoder self-attention weights",
            tuple(weights["decoder_self"][0].shape),
            f"per layer: B × h × Lt × Lt, causal ({n_dec} layer{'' if n_dec == 1 else 's'})",
        ),
        (
            "cross-attention weights",
            tuple(weights["cross"][0].shape),
            "per layer: B × h × Lt target queries × Ls source keys",
        ),
        ("decoder output", tuple(hidden.shape), "one vector per target position"),
        (
            "logits = output projection",
            tuple(logits.shape),
            f"a score for each of the {logits.shape[-1]} words, at each position",
        ),
    ]
