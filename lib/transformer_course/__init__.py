"""Transformers from scratch: the shared implementation every chapter imports.

Modules follow the chapters and import only earlier ones (tests/test_layering.py checks):
the core, _validate → tokenizer → embeddings → positional → kv_cache → attention → softmax →
cost → masks → layers → config → stacks → model → data → pointer → training → sampling →
generation → from_scratch (a popular tutorial's design, rebuilt to compare with the paper's);
then the presentation, assets → figures → widgets → checks → export. ARCHITECTURE.md at the
top of the repository draws the layers and says how to add a chapter, an explorer, an
exercise or a figure.
"""

__version__ = "0.1.0"
