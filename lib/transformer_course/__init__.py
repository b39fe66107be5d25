"""Transformers from scratch: the shared implementation every chapter imports.

Modules follow the chapters and import only earlier ones (tests/test_layering.py checks):
tokenizer → embeddings → positional → attention → softmax → cost → masks → layers →
config → stacks → model → data → pointer → training → generation → from_scratch (a popular
tutorial's design, rebuilt to compare with the paper's). Presentation sits on top:
figures → widgets → checks (→ export, which writes chapters as offline HTML).
"""

__version__ = "0.1.0"
