"""The semantic channel: sentence-embedding models, document vectors, candidate search."""
