"""Alignment of matched pairs: sentence alignment, scorers, the DP kernel."""
