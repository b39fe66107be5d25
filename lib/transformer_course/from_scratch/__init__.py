"""The einsum Transformer "from scratch in PyTorch" that many readers meet first, rebuilt here.

A widely copied tutorial (Aladdin Persson's ``transformer_from_scratch.py``) writes the
encoder-decoder in six classes: ``SelfAttention``, ``TransformerBlock``, ``Encoder``,
``DecoderBlock``, ``Decoder``, ``Transformer``. This module rebuilds that design with its
class and argument names (``embed_size``, ``heads``, ``forward_expansion``, ``max_length``,
``src_pad_idx``, …), so a reader of that text finds their way, in the course's habits:
shapes stated, a ValueError naming the argument, masks True = may attend, weights kept.

Two of its choices differ from the paper. ``AttentionDesign`` holds both switches;
``SOURCE`` (the default everywhere) is the tutorial's, ``PAPER`` the paper's:

- ``shared_projections``: True (the source) cuts each token vector into ``heads`` slices
  and passes every slice through ONE ``nn.Linear(head_dim, head_dim)`` each for values,
  keys and queries. Head i then sees only features i·head_dim … (i+1)·head_dim − 1, and
  all heads share one W_Q, W_K, W_V: 3·head_dim² weights. False (the paper, lib's
  ``MultiHeadAttention``, ``nn.MultiheadAttention``) projects the whole vector with an
  (embed_size × embed_size) matrix and then cuts: every head has its own projection of
  everything, 3·embed_size² weights.
- ``scale``: "embed_size" (the source) divides the energies by √embed_size; "head_dim"
  (the paper's √d_k) by √head_dim, the length of the vectors a head compares. The first
  is √heads times larger, so every softmax starts √heads times cooler (flatter). The
  weights can learn to undo it (W_Q × √heads), so it changes where training starts and
  how fast it gets sharp attention, not what the model can express.

With ``PAPER`` the blocks compute what PyTorch's do: ``load_from_torch`` copies
``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``/``DecoderLayer`` or a whole
``nn.Transformer`` (built without its final LayerNorms, which this design lacks).

Kept as in the source, on either design: learned position embeddings, no √embed_size
factor on the word vectors, a separate output layer with a bias, dropout after each
LayerNorm (the paper puts it before the residual sum; the same when dropout is 0), a
target mask that is only causal (padding comes last, so a causal mask already hides it
from every real position), and projections without bias (as the paper writes them;
``nn.MultiheadAttention`` starts its biases at zero, which is what loading requires).
``device`` is not an argument: positions are made on the device of the ids.
"""

from .attention import PAPER, SCALES, SOURCE, AttentionDesign, SelfAttention
from .blocks import DecoderBlock, TransformerBlock
from .model import Decoder, Encoder, Transformer

__all__ = [
    "PAPER",
    "SCALES",
    "SOURCE",
    "AttentionDesign",
    "Decoder",
    "DecoderBlock",
    "Encoder",
    "SelfAttention",
    "Transformer",
    "TransformerBlock",
]
