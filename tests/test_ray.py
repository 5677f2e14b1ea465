"""Engine parity: every engine gives the local engine's tables (the local engine itself is
checked for run-to-run equality); Ray's connected components match union-find."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

ray = pytest.importorskip("ray")

from typer.testing import CliRunner  # noqa: E402

from dedup.cli import app  # noqa: E402
from dedup.cluster import connected_components  # noqa: E402
from dedup.config import (  # noqa: E402
    AlignConfig,
    LSHConfig,
    RunConfig,
    SemanticConfig,
    VerifyConfig,
)
from dedup.engines import ENGINES  # noqa: E402
from dedup.pipeline import scan  # noqa: E402
from tests.ingest_fixtures import mixed_folder  # noqa: E402

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parent.parent
CLOUGH = ROOT / "benchmarks" / "data" / "clough-stevenson" / "texts"
NO_SEMANTIC = RunConfig(semantic=SemanticConfig(enabled=False))
TABLES = {
    "documents": ["doc_id"],
    "pairs": ["doc_a", "doc_b"],
    "clusters": ["cluster_id", "doc_id"],
    "alignments": ["doc_a", "doc_b", "a_lo", "b_lo", "a_hi", "b_hi", "op"],
    "passages": ["doc_a", "doc_b", "a_start", "b_start"],
}


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _same_tables(
    inputs: list[Path], tmp: Path, config: RunConfig, engine: str = "ray", **read: Any
) -> dict[str, pl.DataFrame]:
    """Scan with the local engine and with ``engine``; assert every table is identical after
    sorting, and the manifests agree on counts, fingerprint, inputs and stage keys."""
    scan(inputs, tmp / "local", config=config, **read)
    result = scan(inputs, tmp / f"run-{engine}", config=config, engine=engine, **read)
    assert result.manifest["engine"]["name"] == engine
    out = {}
    for name, keys in TABLES.items():
        local = pl.read_parquet(tmp / "local" / f"{name}.parquet").sort(keys, nulls_last=True)
        dist = pl.read_parquet(tmp / f"run-{engine}" / f"{name}.parquet").sort(
            keys, nulls_last=True
        )
        assert local.schema == dist.schema, name
        assert local.equals(dist), name
        out[name] = dist
    local_manifest = json.loads((tmp / "local" / "manifest.json").read_text())
    assert result.manifest["counts"] == local_manifest["counts"]
    assert result.manifest["fingerprint"] == local_manifest["fingerprint"]
    assert result.manifest["inputs"] == local_manifest["inputs"]
    assert set(result.manifest["seconds"]) == set(local_manifest["seconds"])
    assert result.manifest["rows"] == local_manifest["rows"]
    return out


ENGINE_NAMES = sorted(ENGINES)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_mixed_inputs_read_alike(tmp_path: Path, engine: str) -> None:
    """CSV, HTML, compressed JSONL, an old run folder: every engine reads them one way."""
    root = tmp_path / "mixed"
    mixed_folder(root)
    (root / "notes.tmp").write_text("left out by --exclude")
    read = {"text_column": "body", "id_column": "id", "exclude": ("*.tmp",)}
    tables = _same_tables([root], tmp_path, NO_SEMANTIC, engine, **read)
    docs = tables["documents"]
    assert docs.height == 10
    assert docs.filter(pl.col("status") == "skipped").height == 2
    assert tables["pairs"].height == 3
    local = json.loads((tmp_path / "local" / "manifest.json").read_text())
    other = json.loads((tmp_path / f"run-{engine}" / "manifest.json").read_text())
    assert local["inputs"]["options"] == other["inputs"]["options"]
    assert local["warnings"] == other["warnings"] == []


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_seeds(seeds_dir: Path, tmp_path: Path, engine: str) -> None:
    tables = _same_tables([seeds_dir], tmp_path, NO_SEMANTIC, engine)
    assert tables["documents"].height == 5


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_clough_stevenson(tmp_path: Path, engine: str) -> None:
    files = [*sorted(CLOUGH.glob("*_taskb.txt"))[:8], CLOUGH / "orig_taskb.txt"]
    tables = _same_tables(files, tmp_path, NO_SEMANTIC, engine)
    assert tables["pairs"].height > 0
    assert tables["alignments"].height > 0


def _text(rng: random.Random, n: int) -> str:
    words = [f"w{rng.randrange(4000)}" for _ in range(n)]
    return ". ".join(" ".join(words[i : i + 11]).capitalize() for i in range(0, n, 11)) + "."


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Planted exact copies, near-duplicates, a reused passage, JSONL records, odd files."""
    rng = random.Random(11)
    root = tmp_path_factory.mktemp("synthetic")
    (root / "sub").mkdir()
    base = _text(rng, 500)
    (root / "a_source.txt").write_text(base)
    for i in range(3):  # exact copies (a group of 4 with the source)
        (root / f"b_copy{i}.txt").write_text(base.upper() + "\n")
    words = base.split(" ")
    for i in range(3):  # near-duplicates: a few words changed each
        edited = [("edit" if j % (40 + 7 * i) == 0 else w) for j, w in enumerate(words)]
        (root / "sub" / f"c_near{i}.txt").write_text(" ".join(edited))
    passage = _text(rng, 300)
    (root / "d_passage.txt").write_text(passage)
    (root / "e_host.txt").write_text(_text(rng, 1500) + " " + passage + " " + _text(rng, 1500))
    records = [{"text": _text(rng, 200), "id": f"r{i}"} for i in range(6)]
    records.append({"text": records[0]["text"] + " One more line at the end.", "id": "r6"})
    records.append({"nottext": "x", "id": "r7"})
    (root / "f_records.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    for i in range(8):
        (root / "sub" / f"z_other{i}.txt").write_text(_text(rng, 250))
    (root / "empty.txt").write_text("")
    (root / "punct.txt").write_text("... !!! ???")
    (root / "binary.bin").write_bytes(bytes(range(256)) * 4)
    return root


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_synthetic_corpus(synthetic: Path, tmp_path: Path, engine: str) -> None:
    tables = _same_tables([synthetic], tmp_path, NO_SEMANTIC, engine)
    relations = set(tables["pairs"]["relation"])
    assert {"exact", "near_duplicate", "partial"} <= relations
    assert (tables["documents"]["status"] == "skipped").sum() >= 3


def test_external_ids_reach_every_table(synthetic: Path, tmp_path: Path) -> None:
    tables = _same_tables([synthetic], tmp_path, NO_SEMANTIC, id_column="id")
    records = tables["pairs"].filter(pl.col("path_a").str.contains("f_records.jsonl:"))
    assert records.height > 0
    assert records["external_id_a"].to_list() == [
        f"r{int(p.rsplit(':', 1)[1]) - 1}" for p in records["path_a"]
    ]
    assert set(records["external_id_b"]) == {"r6"}
    clustered = tables["clusters"].filter(pl.col("path").str.contains("f_records.jsonl:"))
    assert set(clustered["external_id"]) == {"r0", "r6"}
    rows = tables["alignments"].join(records.select("doc_a", "doc_b"), on=["doc_a", "doc_b"])
    assert rows.height > 0
    assert set(rows["external_id_b"]) == {"r6"}
    from dedup.filter import filter_run

    local = filter_run(tmp_path / "local", tmp_path / "l.parquet")
    dist = filter_run(tmp_path / "run-ray", tmp_path / "r.parquet")
    assert local.kept == dist.kept
    assert pl.read_parquet(tmp_path / "l.parquet").equals(pl.read_parquet(tmp_path / "r.parquet"))


def test_synthetic_small_buckets_and_capped_alignment(synthetic: Path, tmp_path: Path) -> None:
    """Large exact groups and LSH buckets linked as stars; alignment of the first pairs only."""
    config = RunConfig(
        semantic=SemanticConfig(enabled=False),
        lsh=LSHConfig(max_bucket=2),
        verify=VerifyConfig(max_exact_group=2),
        align=AlignConfig(max_pairs=5),
    )
    tables = _same_tables([synthetic], tmp_path, config)
    assert tables["pairs"]["n_same"].is_not_null().sum() == 5


def test_cli_engine_ray(seeds_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        ["scan", str(seeds_dir), "--out", str(run), "--engine", "ray", "--quiet", "--no-semantic"],
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["semantic"] == {"ran": False, "reason": "semantic channel disabled"}
    assert not any(p.name.startswith(".ray-") for p in run.iterdir())
    shutil.rmtree(run)


def test_unknown_engine(seeds_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["scan", str(seeds_dir), "--out", str(tmp_path), "--engine", "x"])
    assert res.exit_code == 2
    assert "unknown engine" in res.output


def test_components_match_union_find() -> None:
    from dedup.engines.ray.components import LABELS, components
    from dedup.engines.ray.shuffle import collect

    rng = np.random.default_rng(5)
    n = 400
    a = rng.integers(0, n, 300)
    b = rng.integers(0, n, 300)
    chain = np.arange(0, 60)  # a long path: the slowest shape for label propagation
    a = np.concatenate([a, chain[:-1]])
    b = np.concatenate([b, chain[1:]])
    keep = a != b
    lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    edges = ray.data.from_arrow(pl.DataFrame({"a": lo, "b": hi}).cast(pl.Int64).to_arrow())
    labels_ds, rounds = components(edges, parts=3)
    got = collect(labels_ds, LABELS)
    want = connected_components(n, lo, hi)
    nodes = np.unique(np.concatenate([lo, hi]))
    got = got.sort("doc_id")
    assert got["doc_id"].to_list() == nodes.tolist()
    assert got["cluster_id"].to_list() == want[nodes].tolist()
    sizes = np.bincount(want[nodes])
    assert got["cluster_size"].to_list() == sizes[want[nodes]].tolist()
    assert rounds < 20


def _has_semantic_extra() -> bool:
    try:
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.semantic
@pytest.mark.skipif(not _has_semantic_extra(), reason="needs torch and sentence-transformers")
def test_semantic_channel_matches_local(seeds_dir: Path, tmp_path: Path) -> None:
    """Paraphrase pairs (the three seed rewrites), their alignments (by sentence embeddings)
    and clusters as the local engine finds them; floats within 1e-5. In float32: in bfloat16
    a sentence's vector moves by a few 1e-4 with the batch it is encoded in, and the two
    engines batch differently (the next test)."""
    seeds = sorted(seeds_dir.glob("0*.txt"))
    config = RunConfig(semantic=SemanticConfig(precision="float32"))
    local = scan(seeds, tmp_path / "local", config=config)
    dist = scan(seeds, tmp_path / "ray", config=config, engine="ray")
    notes = dist.manifest["stages"]["semantic"]
    assert notes["ran"] is True, notes
    assert notes["candidates"] >= 3
    summary = ["kept_a", "new_b", "n_same", "n_edited", "n_added", "n_dropped", "n_moved"]
    cols = ["doc_a", "doc_b", "path_a", "path_b", "relation", "channel", "source", *summary]
    scores = ["jaccard", "containment_a", "containment_b", "semantic", "score"]
    want = local.pairs.select(cols + scores).sort("doc_a", "doc_b")
    got = dist.pairs.select(cols + scores).sort("doc_a", "doc_b")
    assert got.select(cols).equals(want.select(cols))
    for c in scores:
        assert np.allclose(got[c].to_numpy(), want[c].to_numpy(), atol=1e-5), c
    assert set(got["relation"]) == {"paraphrase"}
    names = {
        (Path(a).name[:3], Path(b).name[:3])
        for a, b in dist.pairs.select("path_a", "path_b").iter_rows()
    }
    assert names == {("000", "001"), ("000", "002"), ("001", "002")}
    assert (dist.pairs["n_edited"] > 0).all()  # reworded sentences align as edits
    al_keys = TABLES["alignments"]
    al_local = pl.read_parquet(tmp_path / "local" / "alignments.parquet").sort(al_keys)
    al_ray = pl.read_parquet(tmp_path / "ray" / "alignments.parquet").sort(al_keys)
    assert al_ray.drop("score").equals(al_local.drop("score"))
    assert np.allclose(
        al_ray["score"].to_numpy(), al_local["score"].to_numpy(), atol=1e-5, equal_nan=True
    )
    keys = ["cluster_id", "doc_id"]
    assert dist.clusters.sort(keys).equals(local.clusters.sort(keys))
    assert dist.manifest["counts"] == local.manifest["counts"]


@pytest.mark.semantic
@pytest.mark.skipif(not _has_semantic_extra(), reason="needs torch and sentence-transformers")
def test_semantic_channel_without_alignment_matches_local(seeds_dir: Path, tmp_path: Path) -> None:
    """With ``--no-align`` the actors decide the candidates by the rewrite rule, as the local
    engine does: the same paraphrase pairs and scores."""
    seeds = sorted(seeds_dir.glob("0*.txt"))
    config = RunConfig(
        semantic=SemanticConfig(precision="float32"), align=AlignConfig(enabled=False)
    )
    local = scan(seeds, tmp_path / "local", config=config)
    dist = scan(seeds, tmp_path / "ray", config=config, engine="ray")
    cols = ["doc_a", "doc_b", "relation", "channel", "source"]
    want = local.pairs.sort("doc_a", "doc_b")
    got = dist.pairs.sort("doc_a", "doc_b")
    assert got.select(cols).equals(want.select(cols))
    assert got.height == 3
    assert set(got["relation"]) == {"paraphrase"}
    for c in ("semantic", "score"):
        assert np.allclose(got[c].to_numpy(), want[c].to_numpy(), atol=1e-5), c
    for key in ("candidates", "accepted"):
        assert dist.manifest["stages"]["semantic"][key] == local.manifest["stages"]["semantic"][key]


@pytest.mark.semantic
@pytest.mark.skipif(not _has_semantic_extra(), reason="needs torch and sentence-transformers")
def test_semantic_channel_in_bfloat16_agrees_with_local(seeds_dir: Path, tmp_path: Path) -> None:
    """In bfloat16 the engines find the same pairs, relations and alignments; their cosines
    differ by batching only (well under 0.01)."""
    seeds = sorted(seeds_dir.glob("0*.txt"))
    config = RunConfig(semantic=SemanticConfig(precision="bfloat16"))
    local = scan(seeds, tmp_path / "local", config=config)
    dist = scan(seeds, tmp_path / "ray", config=config, engine="ray")
    assert dist.manifest["stages"]["semantic"]["precision"] == "bfloat16"
    cols = ["doc_a", "doc_b", "relation", "channel", "source", "n_same", "n_edited"]
    want = local.pairs.sort("doc_a", "doc_b")
    got = dist.pairs.sort("doc_a", "doc_b")
    assert got.select(cols).equals(want.select(cols))
    assert set(got["relation"]) == {"paraphrase"}
    for c in ("semantic", "score"):
        assert np.allclose(got[c].to_numpy(), want[c].to_numpy(), atol=0.01), c
    al_keys = TABLES["alignments"]
    al_local = pl.read_parquet(tmp_path / "local" / "alignments.parquet").sort(al_keys)
    al_ray = pl.read_parquet(tmp_path / "ray" / "alignments.parquet").sort(al_keys)
    assert al_ray.drop("score").equals(al_local.drop("score"))
    assert np.allclose(
        al_ray["score"].to_numpy(), al_local["score"].to_numpy(), atol=0.01, equal_nan=True
    )


@pytest.mark.semantic
@pytest.mark.skipif(not _has_semantic_extra(), reason="needs torch and sentence-transformers")
def test_semantic_channel_with_one_document(seeds_dir: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(sorted(seeds_dir.glob("0*.txt"))[0], docs / "a.txt")
    (docs / "empty.txt").write_text("")
    result = scan([docs], tmp_path / "ray", config=RunConfig(), engine="ray")
    assert result.manifest["stages"]["semantic"]["ran"] is True
    assert result.manifest["stages"]["semantic"]["candidates"] == 0
    assert result.pairs.height == 0


@pytest.mark.semantic
@pytest.mark.slow
@pytest.mark.skipif(not _has_semantic_extra(), reason="needs torch and sentence-transformers")
def test_vector_cache_on_ray(seeds_dir: Path, tmp_path: Path, encoded: list[str]) -> None:
    """The actors write the vectors they encode to ``--vector-cache`` (a local scan then
    encodes nothing, and gives Ray's tables), and read what is kept there (vectors replaced
    in the folder change Ray's scores)."""
    from dedup.semantic import encoder

    seeds = sorted(seeds_dir.glob("0*.txt"))
    config = RunConfig(semantic=SemanticConfig(precision="float32"))
    cache = tmp_path / "vc"
    dist = scan(seeds, tmp_path / "ray", config=config, engine="ray", vector_cache=cache)
    notes = dist.manifest["stages"]["semantic"]
    files = sorted(cache.rglob("*.npz"))
    assert notes["stored_documents"] == 0
    assert len(files) >= 3  # one per candidate document
    assert notes["vector_cache_written"] >= len(files)  # each batch writes its documents

    encoder._EMBEDDERS.clear()  # as in a new process: nothing cached
    encoded.clear()
    local = scan(seeds, tmp_path / "local", config=config, vector_cache=cache)
    # the sentences, and the joined ones Ray's aligner scored, all came from Ray's files
    assert encoded == []
    assert local.manifest["stages"]["semantic"]["stored_documents"] == len(files)
    for name, keys in TABLES.items():
        if name == "documents":
            continue
        want = pl.read_parquet(tmp_path / "ray" / f"{name}.parquet").sort(keys, nulls_last=True)
        got = pl.read_parquet(tmp_path / "local" / f"{name}.parquet").sort(keys, nulls_last=True)
        floats = [c for c, t in want.schema.items() if t in (pl.Float32, pl.Float64)]
        assert got.drop(floats).equals(want.drop(floats)), name
        for c in floats:
            assert np.allclose(got[c].to_numpy(), want[c].to_numpy(), atol=1e-5, equal_nan=True)

    # every kept vector replaced by one and the same: reading them, the actors score every
    # candidate's sentences as identical, and accept every candidate
    same = tmp_path / "same"
    for path in files:
        with np.load(path) as data:
            keys, vectors = data["keys"], data["vectors"]
        one = np.zeros_like(vectors)
        one[:, 0] = 1.0
        target = same / path.relative_to(cache)
        target.parent.mkdir(parents=True, exist_ok=True)
        np.savez(target, keys=keys, vectors=one)
    forged = scan(seeds, tmp_path / "forged", config=config, engine="ray", vector_cache=same)
    notes, forged_notes = dist.manifest["stages"]["semantic"], forged.manifest["stages"]["semantic"]
    assert forged_notes["stored_documents"] == len(files)
    assert forged_notes["vector_cache_written"] == 0
    assert forged_notes["candidates"] == notes["candidates"]
    assert forged_notes["accepted"] == forged_notes["candidates"] > notes["accepted"]
