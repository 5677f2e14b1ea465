"""The lexical channels: shingles, MinHash, LSH, overlap index, exact groups, verification."""
