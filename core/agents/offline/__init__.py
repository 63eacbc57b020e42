"""The offline engine: answers without a language model (see engine.py)."""
