"""Transformers from scratch: the shared implementation every chapter imports.

Modules follow the chapters and import only earlier ones:
tokenizer → embeddings → positional → attention → masks → (later: layers → model →
data → training → generation). Presentation sits on top: figures → widgets → checks.
"""

__version__ = "0.1.0"
