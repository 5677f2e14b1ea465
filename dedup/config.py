"""One frozen dataclass per stage, nested in :class:`RunConfig`.

Parameters are stored as given. Values derived from them (LSH bands and rows chosen
from the threshold) are computed by the stage that needs them, never written back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from dedup.errors import ConfigError

ShingleKind = Literal["word", "char"]
_SHINGLE_RE = re.compile(r"^(word|char):([1-9][0-9]*)$")


@dataclass(frozen=True)
class ShingleConfig:
    """How a normalized text is cut into shingles."""

    kind: ShingleKind = "word"
    size: int = 5
    seed: int = 0

    @classmethod
    def parse(cls, spec: str) -> ShingleConfig:
        """Parse a spec such as ``word:5`` or ``char:9``."""
        m = _SHINGLE_RE.match(spec.strip().lower())
        if m is None:
            raise ConfigError(
                f"unknown shingle spec {spec!r}: expected word:N or char:N with N >= 1"
            )
        kind: ShingleKind = "word" if m.group(1) == "word" else "char"
        return cls(kind=kind, size=int(m.group(2)))

    def spec(self) -> str:
        return f"{self.kind}:{self.size}"


#: Most MinHash permutations: a 16 KB signature per document (uint32), 32 times the default;
#: beyond it, a typo would exhaust memory before any useful gain in accuracy.
MAX_NUM_PERM = 4096


@dataclass(frozen=True)
class MinHashConfig:
    """MinHash signatures (datasketch ``affine32`` scheme)."""

    num_perm: int = 128
    seed: int = 1


@dataclass(frozen=True)
class LSHConfig:
    """Banding. ``bands``/``rows`` override the choice made from the threshold."""

    threshold: float = 0.5
    bands: int | None = None
    rows: int | None = None
    false_positive_weight: float = 0.5
    false_negative_weight: float = 0.5
    max_bucket: int = 200


@dataclass(frozen=True)
class VerifyConfig:
    """Which verified pairs are kept, and how they are labelled."""

    near_duplicate: float = 0.8
    max_exact_group: int = 50


@dataclass(frozen=True)
class OverlapConfig:
    """Candidates from shared rare shingles, for partial reuse (containment)."""

    enabled: bool = True
    containment: float = 0.5
    min_shared: int = 3
    max_df: int = 50
    sample: int = 8  # index one shingle in `sample` (by hash) ...
    full_index_max: int = 2_000_000  # ... once the corpus has more shingles than this


#: Precisions of the bundled transformer's linear layers (``auto``: bfloat16 where the CPU
#: computes it natively, else float32).
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class SemanticConfig:
    """Paraphrase channel over sentence embeddings (needs the ``semantic`` extra)."""

    enabled: bool | None = None  # None: on when the extra is installed (and affordable)
    model: str | None = None  # None: the bundled all-MiniLM-L6-v2
    doc_threshold: float = 0.5  # candidate pairs: centred static document cosine >= this
    top_k: int = 50  # candidate pairs: at most this many neighbours per document
    max_split_share: float = 0.3  # documents whose words the model does not know are left out
    sentence_threshold: float = 0.75  # a sentence is matched when its best cosine >= this
    score_threshold: float = 0.53  # accepted at this score when aligning (it fills `score`)
    max_seconds_cpu: float = 300.0  # on CPU, a longer estimated run only when asked
    batch_size: int = 32  # sentences per forward pass (32 was fastest on 2 cores)
    precision: str = "auto"  # bundled model's linear layers: auto, float32 or bfloat16


@dataclass(frozen=True)
class AlignConfig:
    """Sentence alignment of verified pairs."""

    enabled: bool = True
    max_pairs: int = 100_000


@dataclass(frozen=True)
class PassageConfig:
    """Passage alignment of a pair (:func:`dedup.align.passages.align_passages`)."""

    ngram: int = 4  # words per lexical seed: rarely shared by chance, survives light edits
    max_ngram_df: int = 20  # skip n-grams repeated more often than this in either text
    max_seeds: int = 200_000  # seeds kept per pair (the rarest n-grams first)
    gap: int = 24  # words allowed between two seeds of one passage (an edited clause)
    min_matched: int = 8  # words covered by shared n-grams for a lexical passage
    edited_share: float = 0.5  # a non-verbatim passage is `edited` when seeds cover this share
    sentence_lexical: float = 0.5  # word-level ratio that makes a sentence pair a seed
    sentence_embedding: float = 0.6  # embedding cosine from which a sentence pair may seed
    dice_weight: float = 0.5  # content-word Dice added to the cosine to pick a partner
    sentence_gap: int = 1  # unmatched sentences allowed inside a run of matched ones
    min_links: int = 2  # matched sentences a reworded passage needs
    extend: float = 0.9  # share of the seed score that lets a run's neighbours join it
    max_sentence_cells: int = 4_000_000  # sentence pairs scored at most (len(a) * len(b))


@dataclass(frozen=True)
class DerivationConfig:
    """Relations from passages (:func:`dedup.align.derivation.relate`)."""

    min_passage: int = 50  # words in verbatim or edited passages that make a pair `partial`
    min_piece: int = 20  # ... counting passages of at least this many words
    rewrite_coverage: float = 0.4  # share of the shorter text in lexical passages: a rewrite
    chain_share: float = 0.33  # share of the shorter text's sentences in the seed chain
    chain_order: float = 0.7  # share of the sentence seeds that the in-order chain keeps
    min_chain: int = 4  # fewest sentences in that chain (3 fall in order by chance 1 time in 6)
    longer_share: float = 0.2  # a rewrite's passages cover this much of the longer text too


@dataclass(frozen=True)
class RunConfig:
    """Everything a scan needs."""

    shingle: ShingleConfig = field(default_factory=ShingleConfig)
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    lsh: LSHConfig = field(default_factory=LSHConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    overlap: OverlapConfig = field(default_factory=OverlapConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    derivation: DerivationConfig = field(default_factory=DerivationConfig)
    workers: int = 0  # 0: all cores
    batch_size: int = 2_000

    def validate(self) -> RunConfig:
        """Raise :class:`ConfigError` for any out-of-range value; return self."""
        lsh, mh = self.lsh, self.minhash
        if not 0.0 < lsh.threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {lsh.threshold}")
        if not 1 <= mh.num_perm <= MAX_NUM_PERM:
            raise ConfigError(f"num_perm must be in [1, {MAX_NUM_PERM}], got {mh.num_perm}")
        if not 0 <= mh.seed < 2**32:
            raise ConfigError(f"seed must be in [0, 2**32), got {mh.seed}")
        if self.shingle.size < 1:
            raise ConfigError(f"shingle size must be >= 1, got {self.shingle.size}")
        if (lsh.bands is None) != (lsh.rows is None):
            raise ConfigError("give both --bands and --rows, or neither")
        if lsh.bands is not None and lsh.rows is not None:
            if lsh.bands < 1 or lsh.rows < 1:
                raise ConfigError("bands and rows must be >= 1")
            if lsh.bands * lsh.rows > mh.num_perm:
                raise ConfigError(
                    f"bands x rows = {lsh.bands * lsh.rows} exceeds num_perm = {mh.num_perm}"
                )
        if not 0.0 < self.overlap.containment <= 1.0:
            raise ConfigError(
                f"containment threshold must be in (0, 1], got {self.overlap.containment}"
            )
        sem = self.semantic
        thresholds = ("doc_threshold", "sentence_threshold", "score_threshold")
        for name in thresholds:
            value = getattr(sem, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"semantic {name} must be in [0, 1], got {value}")
        if sem.top_k < 1 or sem.batch_size < 1 or sem.max_seconds_cpu < 0:
            raise ConfigError("semantic top_k and batch_size must be >= 1, max_seconds_cpu >= 0")
        if sem.precision not in PRECISIONS:
            raise ConfigError(
                f"semantic precision must be {', '.join(PRECISIONS)}, got {sem.precision!r}"
            )
        if not 0.0 <= sem.max_split_share <= 1.0:
            raise ConfigError(f"max_split_share must be in [0, 1], got {sem.max_split_share}")
        if self.derivation.min_passage < 1:
            raise ConfigError(f"min_passage must be >= 1, got {self.derivation.min_passage}")
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def result_dict(self) -> dict[str, Any]:
        """The parameters that change results (workers and batch size do not)."""
        d = self.to_dict()
        d.pop("workers")
        d.pop("batch_size")
        return d

    def fingerprint(self) -> str:
        """Short readable id such as ``word5_p128_t0.5_3f9a1c``: the results' parameters."""
        lsh = self.lsh
        bands = f"_b{lsh.bands}r{lsh.rows}" if lsh.bands is not None else ""
        digest = hashlib.sha256(
            json.dumps(self.result_dict(), sort_keys=True).encode()
        ).hexdigest()[:6]
        return (
            f"{self.shingle.kind}{self.shingle.size}_p{self.minhash.num_perm}"
            f"{bands}_t{lsh.threshold:g}_{digest}"
        )
