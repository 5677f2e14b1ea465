"""Inputs as users have them: CSV exports, web pages in a site template, compressed dumps."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import polars as pl

from tests.corpora import edited, sentences

SITES = {
    "planet": ("The Daily Planet", ["World", "Politics", "Business", "Science", "Sport"]),
    "gazette": ("Riverside Gazette", ["Local", "Schools", "Weather", "Obituaries", "Events"]),
}


def page(site: str, title: str, body: str, *, seed: int = 0) -> str:
    """An article page of ``site``: the article among navigation, menus, a sidebar of
    headlines, a cookie banner, scripts and a long footer, all the same on every page."""
    name, sections = SITES[site]
    rng = random.Random(f"{site}-template")  # the template's words: the same on every page
    nav = "".join(
        f'<li><a href="/{s.lower()}/{i}">{s} {sentences(rng, 3)}</a></li>'
        for s in sections
        for i in range(6)
    )
    headlines = "".join(
        f'<li><a href="/story/{i}">{sentences(rng, 12)}</a></li>' for i in range(12)
    )
    legal = "".join(f"<p>{sentences(rng, 60)}</p>" for _ in range(3))
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | {name}</title>
<script>window.dataLayer = window.dataLayer || []; function gtag() {{ dataLayer.push(arguments); }}
gtag('js', new Date()); gtag('config', 'UA-{seed % 7}');</script>
<style>body {{ font-family: serif; }} nav li {{ display: inline; }}</style></head>
<body>
<div class="cookie-banner">{name} {sentences(rng, 40)} <button>Accept all</button></div>
<header><a class="logo" href="/">{name}</a><nav><ul>{nav}</ul></nav></header>
<main><article><h1>{title}</h1><p class="byline">By staff writers</p>{paragraphs}</article></main>
<aside><h2>Most read</h2><ol>{headlines}</ol></aside>
<footer><nav><a href="/about">About</a> <a href="/contact">Contact</a></nav>{legal}
<p>Copyright {name}. All rights reserved.</p></footer>
</body></html>
"""


def article(rng: random.Random, n_paragraphs: int = 5) -> str:
    """An article body: paragraphs separated by blank lines."""
    return "\n\n".join(sentences(rng, 60) for _ in range(n_paragraphs))


def mixed_folder(root: Path) -> dict[str, str]:
    """A folder as a user has it; return the name of each planted document.

    - ``exports/posts.csv``: a CSV with ``id,title,body``; row 1 is an edited copy of
      row 0, row 2 an unrelated post, row 3 a bad row (one field too many).
    - ``site/planet/{a,b}.html``: two different articles in one site template;
      ``site/gazette/a.html``: article ``a`` again in another site's template.
    - ``dumps/lines.jsonl.gz``: gzip JSON Lines; line 2 copies the CSV's row 2.
    - ``runs/old/``: an earlier dedup run (manifest.json, report.html, tables).
    """
    rng = random.Random(11)
    root.mkdir(parents=True, exist_ok=True)
    (root / "exports").mkdir()
    post0, post2 = article(rng, 3), article(rng, 3)
    rows = [
        ("p0", "First", post0),
        ("p1", "First again", edited(rng, post0, 4)),
        ("p2", "Other", post2),
    ]
    csv = pl.DataFrame(rows, schema=["id", "title", "body"], orient="row").write_csv()
    csv += 'p3,Broken,"a body",one field too many\n'
    (root / "exports" / "posts.csv").write_text(csv, encoding="utf-8")
    story_a, story_b = article(rng), article(rng)
    for site, name, body in (
        ("planet", "a", story_a),
        ("planet", "b", story_b),
        ("gazette", "a", story_a),
    ):
        folder = root / "site" / site
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.html").write_text(page(site, f"Story {name}", body), encoding="utf-8")
    (root / "dumps").mkdir()
    lines = [{"id": "j1", "body": article(rng, 2)}, {"id": "j2", "body": post2}]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    (root / "dumps" / "lines.jsonl.gz").write_bytes(gzip.compress(data))
    old = root / "runs" / "old"
    old.mkdir(parents=True)
    manifest = {"tool": "dedup", "fingerprint": "w5_p128", "counts": {"documents": 3}}
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (old / "report.html").write_text(page("planet", "Report", story_a + "\n\n" + post0))
    pl.DataFrame({"path": ["x"], "text": [post2]}).write_parquet(old / "documents.parquet")
    return {
        "csv": "exports/posts.csv",
        "planet_a": "site/planet/a.html",
        "planet_b": "site/planet/b.html",
        "gazette_a": "site/gazette/a.html",
        "jsonl": "dumps/lines.jsonl.gz",
        "old_run": "runs/old",
    }
