"""Synthetic corpora with planted duplicates, derivatives and partial reuse."""
