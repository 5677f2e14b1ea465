"""HTML main-text extraction: which extractor, how fast, how faithful, how much template leaks.

Corpora are folders of real pages that share a site template and mark their main content
with an element (given as ``NAME=GLOB=XPATH``; the defaults are documentation shipped on
this machine: Node.js API pages, npm command pages, chapters of the Rust book), plus a
built-in one: distinct generated articles in two synthetic site templates with heavy
navigation, sidebars, cookie banners and footers (``tests/ingest_fixtures.py``). For each page the
text of the XPath element is the reference.

Contenders: the raw markup (what the plain-text reader gave before HTML was parsed), every
text node (lxml, scripts and styles dropped), trafilatura (as dedup calls it; with
``favor_precision``; with ``fast``: no fallback extractors) and jusText.

Measures per contender and corpus: milliseconds per page; word precision and recall against
the reference (bags of lowercased words); template leak: the mean Jaccard of word 5-gram
sets between different pages of one site (the references' own mean is the floor). Writes
``results/html_extract.json`` (or ``--out``) and prints a table. The machine may be shared:
compare contenders within one run only.

    PYTHONPATH=. python benchmarks/html_extract.py [--pages 40] \\
        [--corpus nodejs=/usr/share/doc/nodejs/api/*.html=//*[@id="apicontent"]]
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import platform
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html

from tests.ingest_fixtures import SITES, article, page

ROOT = Path(__file__).resolve().parent.parent
RUST = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html"
DEFAULT_CORPORA = [
    'nodejs-api=/usr/share/doc/nodejs/api/*.html=//*[@id="apicontent"]',
    'npm-docs=/usr/lib/node_modules/npm/docs/output/commands/*.html=//*[@id="content"]',
    f"rust-book={RUST}/book/ch*.html=//main",
]
WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(max(0, len(w) - n + 1))}


def element_text(html: str, xpath: str) -> str | None:
    tree = lxml.html.fromstring(html)
    for bad in tree.xpath("//script|//style"):
        bad.drop_tree()
    found = tree.xpath(xpath)
    return None if not found else str(found[0].text_content())


def every_text_node(html: str) -> str:
    tree = lxml.html.fromstring(html)
    for bad in tree.xpath("//script|//style"):
        bad.drop_tree()
    return str(tree.text_content())


def contenders() -> dict[str, Callable[[str], str]]:
    import justext
    import trafilatura

    from dedup.io.readers_html import extract_main_text

    def jus(html: str) -> str:
        paras = justext.justext(html.encode("utf-8"), justext.get_stoplist("English"))
        return "\n".join(p.text for p in paras if not p.is_boilerplate)

    def precise(html: str) -> str:
        return trafilatura.extract(html, favor_precision=True, include_comments=False) or ""

    def fast(html: str) -> str:
        return trafilatura.extract(html, fast=True, include_comments=False) or ""

    return {
        "raw markup (old reader)": lambda html: html,
        "all text nodes (lxml)": every_text_node,
        "trafilatura (dedup)": lambda html: extract_main_text(html) or "",
        "trafilatura precision": precise,
        "trafilatura fast": fast,
        "jusText": jus,
    }


def load_corpus(spec: str, pages: int) -> tuple[str, list[tuple[str, str]]]:
    """``NAME=GLOB=XPATH`` → the name and up to ``pages`` (html, reference) pairs."""
    name, pattern, xpath = spec.split("=", 2)
    out: list[tuple[str, str]] = []
    for path in sorted(glob.glob(pattern)):  # noqa: PTH207 - an absolute pattern
        html = Path(path).read_text(encoding="utf-8", errors="replace")
        ref = element_text(html, xpath)
        if ref is not None and len(words(ref)) >= 50:
            out.append((html, ref))
    random.Random(0).shuffle(out)
    return name, out[:pages]


def synthetic_corpus(pages: int) -> list[tuple[str, str]]:
    """Distinct generated articles in the two synthetic site templates (the reference: the
    article's title and text), half on each site."""
    rng = random.Random(0)
    out = []
    for i in range(pages):
        body = article(rng)
        site = sorted(SITES)[i % 2]
        out.append((page(site, f"Story {i}", body), f"Story {i}\n{body}"))
    return out


def measure(extract: Callable[[str], str], corpus: list[tuple[str, str]]) -> dict[str, Any]:
    t0 = time.perf_counter()
    texts = [extract(html) for html, _ in corpus]
    seconds = time.perf_counter() - t0
    tp = n_out = n_ref = 0
    for text, (_, ref) in zip(texts, corpus, strict=True):
        got, want = Counter(words(text)), Counter(words(ref))
        tp += sum((got & want).values())
        n_out += sum(got.values())
        n_ref += sum(want.values())
    sets = [shingles(t) for t in texts]
    jac = [len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2) if a | b]
    return {
        "ms_per_page": round(1000 * seconds / len(corpus), 2),
        "precision": round(tp / n_out, 4) if n_out else 0.0,
        "recall": round(tp / n_ref, 4) if n_ref else 0.0,
        "template_leak_jaccard": round(sum(jac) / len(jac), 4) if jac else 0.0,
        "empty_pages": sum(not t.strip() for t in texts),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", action="append", help="NAME=GLOB=XPATH (repeatable)")
    ap.add_argument("--pages", type=int, default=40, help="pages per corpus")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "html_extract.json")
    args = ap.parse_args()
    corpora = {"synthetic-templates": synthetic_corpus(args.pages)}
    for spec in args.corpus or DEFAULT_CORPORA:
        name, pages = load_corpus(spec, args.pages)
        if len(pages) >= 2:
            corpora[name] = pages
    results: dict[str, Any] = {"machine": platform.platform(), "corpora": {}}
    for cname, corpus in corpora.items():
        sets = [shingles(ref) for _, ref in corpus]
        floor = [len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2) if a | b]
        entry: dict[str, Any] = {
            "pages": len(corpus),
            "mean_kb": round(sum(len(h) for h, _ in corpus) / len(corpus) / 1024, 1),
            "reference_jaccard": round(sum(floor) / len(floor), 4) if floor else 0.0,
            "contenders": {},
        }
        for name, fn in contenders().items():
            entry["contenders"][name] = m = measure(fn, corpus)
            print(
                f"{cname:20} {name:26} {m['ms_per_page']:8.2f} ms  P {m['precision']:.3f}  "
                f"R {m['recall']:.3f}  leak {m['template_leak_jaccard']:.4f} "
                f"(floor {entry['reference_jaccard']:.4f})  empty {m['empty_pages']}"
            )
        results["corpora"][cname] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
