"""Text: normalization (the one word tokenizer), sentence segmentation, word-level diffs."""
