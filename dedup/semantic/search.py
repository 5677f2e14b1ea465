"""Paraphrase channel, numpy part: candidate pairs from document vectors, verification from
sentence vectors.

Nothing here needs torch; :mod:`dedup.semantic.embed` turns texts into the vectors used here.

Candidate pairs come from document cosine: exact top-k by blocked matrix products for small and
medium corpora, random-hyperplane LSH (SimHash bands) for large ones. A candidate is then verified
from its sentences (:func:`sentence_similarity`): how much of one document is covered by close
paraphrases of sentences of the other, blended with the document cosine.

Calibration (``benchmarks/semantic_calibration.py``, Clough–Stevenson answers against their own
source, and the seed rewrites): document cosine alone cannot tell a heavy rewrite (0.74–0.98) from
an independent answer on the same topic (0.43–0.85); sentence coverage at cosine >= 0.75 mostly
can (median 0.70 for heavy, 0.12 for non). The seed rewrites, paraphrased and reordered sentence
by sentence, have almost no sentence above 0.75 but a document cosine of 0.89–0.91 — and so
does independent coverage of one story (median 0.86–0.88): the score ranks candidates, and in a
scan with alignment every candidate it checked goes on to the passage aligner, whose passages
decide (:mod:`dedup.align.derivation`); the score alone accepts pairs only with ``--no-align``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedup.lexical.lsh import window_pairs

FloatArray = npt.NDArray[np.float32]
PairArray = npt.NDArray[np.int64]

#: Largest block of the similarity matrix held at once, in float32 cells (128 MiB).
_BLOCK_CELLS = 1 << 25
#: Above this many documents, :func:`semantic_candidates` uses LSH unless told otherwise.
EXACT_MAX_DOCS = 50_000
#: Up to this many documents, :func:`static_candidates` proposes every pair.
SMALL_CORPUS = 50


@dataclass(frozen=True)
class SemanticScore:
    """Sentence-level evidence that two documents are paraphrases of each other.

    Attributes:
        coverage_a: Share of A's text (weighted by sentence length) whose sentences have a match
            with cosine >= the sentence threshold in B.
        coverage_b: The same for B in A.
        mean_a: Weighted mean over A's sentences of the best cosine in B.
        mean_b: The same for B in A.
        doc_cosine: Cosine of the two document vectors.
        score: Score in [0, 1] that ranks candidates; :func:`sentence_similarity` accepts a
            pair at the score threshold.
        accepted: Whether the pair is verified as a paraphrase (by the score threshold, or by
            the rule a caller of :func:`dedup.semantic.embed.verify_candidates` passes).
    """

    coverage_a: float
    coverage_b: float
    mean_a: float
    mean_b: float
    doc_cosine: float
    score: float
    accepted: bool


def _empty_pairs() -> PairArray:
    return np.empty((0, 2), dtype=np.int64)


def normalize_rows(emb: npt.ArrayLike) -> FloatArray:
    """Return ``emb`` as a C-contiguous float32 matrix whose non-zero rows have norm 1."""
    x = np.ascontiguousarray(emb, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-d embedding matrix, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit: FloatArray = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return unit


def _unique_pairs(i: PairArray, j: PairArray) -> PairArray:
    """Sorted unique (min, max) pairs without self pairs."""
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    keep = lo != hi
    if not keep.any():
        return _empty_pairs()
    pairs = np.stack([lo[keep], hi[keep]], axis=1).astype(np.int64)
    return np.unique(pairs, axis=0)


def exact_candidates(doc_emb: npt.ArrayLike, *, threshold: float, k: int) -> PairArray:
    """Pairs (i, j), i < j, where j is among i's ``k`` nearest neighbours (or i among j's)
    with cosine >= ``threshold``, by blocked matrix products (memory stays bounded).

    Args:
        doc_emb: (n, d) document vectors; rows are L2-normalized here.
        threshold: Minimum cosine.
        k: Neighbours kept per document.

    Returns:
        (m, 2) int64 array of sorted unique pairs.
    """
    x = normalize_rows(doc_emb)
    n = x.shape[0]
    if n < 2 or k < 1:
        return _empty_pairs()
    kk = min(k, n - 1)
    block = max(1, min(n, _BLOCK_CELLS // n))
    found_i: list[PairArray] = []
    found_j: list[PairArray] = []
    for start in range(0, n, block):
        sims = x[start : start + block] @ x.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        ok = np.take_along_axis(sims, top, axis=1) >= threshold
        found_i.append((rows[:, None] + start).repeat(kk, axis=1)[ok].astype(np.int64))
        found_j.append(top[ok].astype(np.int64))
    return _unique_pairs(np.concatenate(found_i), np.concatenate(found_j))


def lsh_parameters(
    threshold: float,
    *,
    n_docs: int = 100_000,
    recall: float = 0.99,
    background: float = 0.3,
    max_bands: int = 256,
) -> tuple[int, int]:
    """Choose (bands, rows) of SimHash banding for a cosine threshold.

    A random hyperplane keeps two vectors at angle θ on the same side with probability
    ``1 − θ/π``; a band of ``r`` bits collides with probability ``p**r``. For each ``r`` the
    fewest bands reaching ``recall`` at the threshold is taken, and the ``r`` with the lowest
    expected work per document ``bands · (1 + n_docs · p_background**r)`` wins.

    Args:
        threshold: Cosine at which recall is guaranteed.
        n_docs: Corpus size (more documents favour longer, more selective bands).
        recall: Probability that a pair at exactly the threshold collides in some band.
        background: Typical cosine of unrelated documents (sets the false-collision rate).
        max_bands: Upper bound on bands.

    Returns:
        (bands, rows).
    """
    p_t = 1.0 - math.acos(min(max(threshold, -1.0), 1.0)) / math.pi
    p_bg = 1.0 - math.acos(min(max(background, -1.0), 1.0)) / math.pi
    best: tuple[float, int, int] | None = None
    for rows in range(1, 33):
        hit = p_t**rows
        bands = 1 if hit >= 1.0 else math.ceil(math.log(1.0 - recall) / math.log1p(-hit))
        if bands > max_bands:
            continue
        cost = bands * (1.0 + n_docs * p_bg**rows)
        if best is None or cost < best[0]:
            best = (cost, bands, rows)
    if best is None:
        return max_bands, 1
    return best[1], best[2]


def _band_keys(x: FloatArray, bands: int, rows: int, seed: int) -> npt.NDArray[np.uint64]:
    """(n, bands) integer keys: the sign bits of ``rows`` random projections per band."""
    rng = np.random.default_rng(seed)
    planes = rng.standard_normal((x.shape[1], bands * rows)).astype(np.float32)
    bits = (x @ planes > 0).reshape(x.shape[0], bands, rows).astype(np.uint64)
    weights = np.left_shift(np.uint64(1), np.arange(rows, dtype=np.uint64))
    keys: npt.NDArray[np.uint64] = (bits * weights).sum(axis=2, dtype=np.uint64)
    return keys


def _keep_top_k(pairs: PairArray, sims: FloatArray, k: int) -> PairArray:
    """Keep pairs ranked within the ``k`` best of either endpoint (as the exact path does)."""
    ends = np.concatenate([pairs[:, 0], pairs[:, 1]])
    both = np.concatenate([sims, sims])
    order = np.lexsort((-both, ends))
    sorted_ends = ends[order]
    first = np.searchsorted(sorted_ends, sorted_ends, side="left")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - first
    m = pairs.shape[0]
    keep = (rank[:m] < k) | (rank[m:] < k)
    return pairs[keep]


def lsh_candidates(
    doc_emb: npt.ArrayLike,
    *,
    threshold: float,
    k: int,
    bands: int | None = None,
    rows: int | None = None,
    max_bucket: int = 200,
    seed: int = 0,
) -> PairArray:
    """Approximate :func:`exact_candidates` by SimHash banding, then exact cosine on the
    colliding pairs only.

    Args:
        doc_emb: (n, d) document vectors.
        threshold: Minimum cosine.
        k: Neighbours kept per document.
        bands: Number of bands; with ``rows``, overrides :func:`lsh_parameters`.
        rows: Bits per band.
        max_bucket: How far each element is paired within a bucket (bounds the work of
            buckets of many near-identical documents).
        seed: Seed of the random hyperplanes.

    Returns:
        (m, 2) int64 array of sorted unique pairs.
    """
    x = normalize_rows(doc_emb)
    if x.shape[0] < 2 or k < 1:
        return _empty_pairs()
    if bands is None or rows is None:
        bands, rows = lsh_parameters(threshold, n_docs=x.shape[0])
    keys = _band_keys(x, bands, rows, seed)
    found = [window_pairs(keys[:, b], max_bucket=max_bucket) for b in range(bands)]
    pairs = _unique_pairs(*np.concatenate(found).T) if found else _empty_pairs()
    if pairs.shape[0] == 0:
        return pairs
    sims = np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]])
    ok = sims >= threshold
    return _keep_top_k(pairs[ok], sims[ok], k)


def semantic_candidates(
    doc_emb: npt.ArrayLike, *, threshold: float, k: int, method: str = "auto"
) -> PairArray:
    """Candidate paraphrase pairs: documents whose vectors have cosine >= ``threshold``.

    Args:
        doc_emb: (n, d) document vectors (from :func:`dedup.semantic.embed.embed_documents`).
        threshold: Minimum document cosine (``SemanticConfig.doc_threshold``).
        k: Neighbours kept per document (``SemanticConfig.top_k``).
        method: ``"exact"``, ``"lsh"``, or ``"auto"`` (exact up to :data:`EXACT_MAX_DOCS`).

    Returns:
        (m, 2) int64 array of pairs (i, j), i < j, sorted.

    Raises:
        ValueError: For an unknown method.
    """
    n = np.shape(doc_emb)[0]
    if method == "auto":
        method = "exact" if n <= EXACT_MAX_DOCS else "lsh"
    if method == "exact":
        return exact_candidates(doc_emb, threshold=threshold, k=k)
    if method == "lsh":
        return lsh_candidates(doc_emb, threshold=threshold, k=k)
    raise ValueError(f"unknown candidate method {method!r}: expected auto, exact or lsh")


def _directional(
    best: FloatArray, weights: FloatArray, sentence_threshold: float
) -> tuple[float, float]:
    """(coverage, weighted mean) of best-match cosines."""
    total = float(weights.sum())
    if best.size == 0 or total <= 0:
        return 0.0, 0.0
    covered = float(weights[best >= sentence_threshold].sum()) / total
    return covered, float((best * weights).sum()) / total


def _weights(w: npt.ArrayLike | None, n: int) -> FloatArray:
    if w is None:
        return np.ones(n, dtype=np.float32)
    arr = np.asarray(w, dtype=np.float32)
    if arr.shape != (n,):
        raise ValueError(f"expected {n} sentence weights, got shape {arr.shape}")
    return arr


def _mean_vector(emb: FloatArray, w: FloatArray) -> FloatArray:
    v = (emb * w[:, None]).sum(axis=0) if emb.size else np.zeros(emb.shape[1], np.float32)
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)


def sentence_similarity(
    emb_a: npt.ArrayLike,
    emb_b: npt.ArrayLike,
    *,
    weights_a: npt.ArrayLike | None = None,
    weights_b: npt.ArrayLike | None = None,
    doc_cosine: float | None = None,
    sentence_threshold: float = 0.75,
    score_threshold: float = 0.53,
) -> SemanticScore:
    """Verify a candidate pair from the embeddings of its sentences.

    ``coverage`` is the larger of the two directional coverages (the derivative is the
    covered one, whichever it is). The score blends it with the document cosine,
    ``0.5·coverage + 0.5·doc_cosine``, clipped to [0, 1], and ``accepted`` is
    ``score >= score_threshold``. A document cosine alone accepts nothing: independent reports
    of one story have document cosines as high as rewrites.

    Args:
        emb_a: (n_a, d) sentence vectors of A.
        emb_b: (n_b, d) sentence vectors of B.
        weights_a: Per-sentence weights of A (e.g. word counts); uniform when None.
        weights_b: Per-sentence weights of B.
        doc_cosine: Cosine of the document vectors; when None, that of the weighted mean
            sentence vectors.
        sentence_threshold: Cosine from which a sentence counts as matched.
        score_threshold: Score from which the pair is accepted.

    Returns:
        The :class:`SemanticScore` of the pair.
    """
    a, b = normalize_rows(emb_a), normalize_rows(emb_b)
    wa, wb = _weights(weights_a, a.shape[0]), _weights(weights_b, b.shape[0])
    sims = a @ b.T
    empty = sims.size == 0
    best_a = sims.max(axis=1) if not empty else np.zeros(a.shape[0], np.float32)
    best_b = sims.max(axis=0) if not empty else np.zeros(b.shape[0], np.float32)
    cov_a, mean_a = _directional(best_a, wa, sentence_threshold)
    cov_b, mean_b = _directional(best_b, wb, sentence_threshold)
    if doc_cosine is None:
        doc_cosine = float(_mean_vector(a, wa) @ _mean_vector(b, wb))
    blend = 0.5 * max(cov_a, cov_b) + 0.5 * doc_cosine
    score = min(1.0, max(0.0, blend))
    return SemanticScore(
        coverage_a=cov_a,
        coverage_b=cov_b,
        mean_a=mean_a,
        mean_b=mean_b,
        doc_cosine=float(doc_cosine),
        score=score,
        accepted=score >= score_threshold,
    )


@dataclass(frozen=True)
class StaticCandidates:
    """Candidate pairs of the cheap stage.

    Attributes:
        pairs: (m, 2) int64 document indices, i < j, sorted.
        cosines: (m,) float32 static cosine of each pair.
        left_out: Documents not searched: their words are mostly unknown to the model.
    """

    pairs: PairArray
    cosines: FloatArray
    left_out: int


def static_candidates(
    vectors: npt.ArrayLike,
    split_share: npt.ArrayLike,
    *,
    threshold: float,
    k: int,
    max_split_share: float,
    method: str = "auto",
) -> StaticCandidates:
    """Candidate paraphrase pairs from static document vectors.

    A document whose wordpieces are more than ``max_split_share`` word continuations is left
    out: the model does not know its words (pseudo-words, another script, code), so its vector
    says nothing about meaning and would sit near every other such document.

    Static vectors of any two texts share a large common component (the frequent words of the
    language), so the vectors are centred on the corpus's mean before the cosine: what is left
    is what sets a document apart from the rest of the corpus. A corpus of at most
    :data:`SMALL_CORPUS` searched documents has every pair proposed (top ``k`` still applies):
    its mean is no background, and verifying all its pairs is cheap.

    Args:
        vectors: (n, d) static document vectors.
        split_share: (n,) share of each document's pieces that continue a word.
        threshold: Minimum centred cosine (``SemanticConfig.doc_threshold``).
        k: Neighbours kept per document (``SemanticConfig.top_k``).
        max_split_share: Largest share of continuation pieces of a searched document.
        method: As :func:`semantic_candidates`.

    Returns:
        The :class:`StaticCandidates` (cosines of the centred vectors).
    """
    x = normalize_rows(vectors)
    share = np.asarray(split_share, dtype=np.float64)
    keep = np.flatnonzero((share <= max_split_share) & (np.abs(x).sum(axis=1) > 0))
    left_out = int(x.shape[0] - keep.size)
    if keep.size > SMALL_CORPUS:
        sub = normalize_rows(x[keep] - x[keep].mean(axis=0))
    else:
        sub, threshold = x[keep], -1.0
    local = semantic_candidates(sub, threshold=threshold, k=k, method=method)
    cos = np.einsum("ij,ij->i", sub[local[:, 0]], sub[local[:, 1]]).astype(np.float32)
    pairs = keep[local].reshape(-1, 2) if local.size else _empty_pairs()
    return StaticCandidates(pairs.astype(np.int64), cos, left_out)
