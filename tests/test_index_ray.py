"""An index built by the Ray engine is the local build's: same files, same answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

ray = pytest.importorskip("ray")

from typer.testing import CliRunner  # noqa: E402

from dedup.cli import app  # noqa: E402
from dedup.config import (  # noqa: E402
    LSHConfig,
    OverlapConfig,
    RunConfig,
    SemanticConfig,
    VerifyConfig,
)
from dedup.engines import build_index  # noqa: E402
from dedup.errors import ConfigError  # noqa: E402
from dedup.index import Index, QueryResult  # noqa: E402
from dedup.index import segment as seg  # noqa: E402
from dedup.synth.generate import synthesize  # noqa: E402

pytestmark = pytest.mark.ray

# small bucket, group and document-frequency limits, so the synthetic corpus crosses each
LEXICAL = RunConfig(
    lsh=LSHConfig(max_bucket=8),
    verify=VerifyConfig(max_exact_group=3),
    overlap=OverlapConfig(max_df=6),
    semantic=SemanticConfig(enabled=False),
)


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Path]]:
    """Indexed and query files of a small synthetic corpus (planted pairs across the
    split), plus an empty and a binary file among the indexed (skipped documents) and an
    exact-copy group larger than ``max_exact_group`` across the split."""
    root = tmp_path_factory.mktemp("synth")
    synthesize(root / "corpus", docs=400, seed=5, mean_chars=1500)
    files = sorted((root / "corpus" / "docs").rglob("*.txt"))
    (root / "empty.txt").write_text("", encoding="utf-8")
    (root / "binary.txt").write_bytes(bytes(range(256)) * 8)
    copies = []
    for i in range(6):
        copies.append(root / f"copy{i}.txt")
        copies[-1].write_text(files[0].read_text(encoding="utf-8"), encoding="utf-8")
    indexed = [f for i, f in enumerate(files) if i % 4 != 3]
    extra = [root / "empty.txt", root / "binary.txt", *copies[:4]]
    return [*indexed, *extra], [*files[3::4], *copies[4:]]


def _segment(index: Path) -> tuple[dict[str, object], Path]:
    manifest = seg.read_manifest(index)
    (entry,) = manifest["segments"]
    return manifest, index / seg.SEGMENTS / entry["name"]


def _same_index(local: Path, other: Path) -> None:
    """Both indexes hold the same manifest (but for segment names and generation) and
    segment files: every table equal, every spill file byte for byte."""
    ma, sa = _segment(local)
    mb, sb = _segment(other)
    for key in set(ma) | set(mb):
        if key != "segments":
            assert ma.get(key) == mb.get(key), key
    entry_a = dict(ma["segments"][0], name="")  # type: ignore[index]
    entry_b = dict(mb["segments"][0], name="")  # type: ignore[index]
    assert entry_a == entry_b
    names = sorted(p.name for p in sa.iterdir())
    assert names == sorted(p.name for p in sb.iterdir())
    for name in names:
        if name.endswith(".parquet"):
            a, b = pl.read_parquet(sa / name), pl.read_parquet(sb / name)
            assert a.schema == b.schema, name
            assert a.equals(b), name
        else:
            assert (sa / name).read_bytes() == (sb / name).read_bytes(), name


def _same_answers(local: Path, other: Path, queries: list[Path]) -> QueryResult:
    with Index.open(local) as ix:
        expected = ix.query_files(queries)
    with Index.open(other) as ix:
        got = ix.query_files(queries)
    assert got.matches.schema == expected.matches.schema
    assert got.matches.equals(expected.matches)
    assert got.skipped.equals(expected.skipped)
    assert got.alignments.equals(expected.alignments)
    return got


def test_synthetic_corpus(synth: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    indexed, queries = synth
    build_index(indexed, tmp_path / "local", config=LEXICAL)
    result = build_index(indexed, tmp_path / "ray", config=LEXICAL, engine="ray")
    assert result.documents.height == len(indexed)
    assert set(result.documents["status"]) == {"ok", "skipped"}
    _same_index(tmp_path / "local", tmp_path / "ray")
    got = _same_answers(tmp_path / "local", tmp_path / "ray", queries)
    assert got.matches.height > 20
    assert {"exact", "near_duplicate"} <= set(got.matches["relation"])


def test_seeds_with_semantic_vectors(seeds_dir: Path, tmp_path: Path) -> None:
    indexed = [next(seeds_dir.glob(f"{p}_*.txt")) for p in ("000", "003")]
    queries = [next(seeds_dir.glob(f"{p}_*.txt")) for p in ("001", "002")]
    cfg = RunConfig()  # the channel as the scan decides it: on for four short articles
    build_index(indexed, tmp_path / "local", config=cfg)
    build_index(indexed, tmp_path / "ray", config=cfg, engine="ray")
    _same_index(tmp_path / "local", tmp_path / "ray")
    manifest, folder = _segment(tmp_path / "ray")
    if manifest["semantic"]["ran"]:  # type: ignore[index]
        assert pl.read_parquet(folder / "vectors.parquet").height == 2
    _same_answers(tmp_path / "local", tmp_path / "ray", queries)


def test_cli_build_and_bad_options(seeds_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    seed = str(next(seeds_dir.glob("000_*.txt")))
    ok = runner.invoke(
        app, ["index", "build", seed, "--index", str(tmp_path / "ix"), "--engine", "ray"]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads((tmp_path / "ix" / seg.MANIFEST).read_text())["n_docs"] == 1
    for extra, message in (
        (["--engine", "spark"], "unknown engine 'spark'"),
        (["--ray-address", "auto"], "--ray-address works with --engine ray only"),
    ):
        bad = runner.invoke(app, ["index", "build", seed, "--index", str(tmp_path / "x"), *extra])
        assert bad.exit_code == ConfigError.exit_code
        lines = [line for line in bad.output.splitlines() if line.strip()]
        assert len(lines) == 1, bad.output
        assert message in lines[0]
        assert not (tmp_path / "x").exists()
