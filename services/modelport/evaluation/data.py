"""Labelled evaluation data: reading it, and the hash that names it in a report.

Formats (one record per line for JSONL; a header row for CSV):

- classification: `{"text": ..., "label": ...}`;
- token classification: `{"text": ..., "entities": [{"start": 0, "end": 5, "label":
  "PERSON"}]}` (code-point offsets into `text`);
- retrieval: queries `{"id": ..., "text": ..., "relevant": ["doc-id", ...]}` and a corpus
  `{"id": ..., "text": ...}`;
- image classification: a folder with one subfolder per label, its images inside.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport.evaluation.metrics import Span

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}


class DataError(ValueError):
    """The evaluation data cannot be read: names the file and, where it can, the line."""


@dataclass(frozen=True)
class Example:
    """One labelled input: a text or an image (`data`), what it should give, and where
    it came from (`source`: file:line, or the image's path)."""

    source: str
    text: str = ""
    data: bytes = b""
    label: str = ""
    entities: tuple[Span, ...] = ()
    relevant: frozenset[str] = frozenset()
    id: str = ""


@dataclass
class Dataset:
    """The examples of one evaluation, with the SHA-256 of the files they came from."""

    path: str
    examples: list[Example]
    sha256: str
    files: int = 1
    corpus: list[Example] = field(default_factory=list)
    corpus_sha256: str = ""

    def sample(self, limit: int, seed: int) -> Dataset:
        """At most `limit` examples (0: all), drawn with `seed`; in file order."""
        if not limit or limit >= len(self.examples):
            return self
        chosen = sorted(random.Random(seed).sample(range(len(self.examples)), limit))
        return Dataset(
            self.path,
            [self.examples[i] for i in chosen],
            self.sha256,
            self.files,
            self.corpus,
            self.corpus_sha256,
        )


def _records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(file:line, record) of a JSONL or CSV file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not valid UTF-8 (at byte {exc.start})") from None
    if path.suffix.lower() == ".csv":
        rows = csv.DictReader(io.StringIO(text))
        return [(f"{path}:{i}", dict(row)) for i, row in enumerate(rows, start=2)]
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{i}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{i}: expected a JSON object")
        out.append((f"{path}:{i}", record))
    return out


def _string(record: dict[str, Any], key: str, where: str, *alternatives: str) -> str:
    for name in (key, *alternatives):
        value = record.get(name)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    raise DataError(f"{where}: field {key!r} is missing or empty")


def sha256_files(paths: Iterable[Path], root: Path | None = None) -> str:
    """SHA-256 over each file's path (relative to `root`) and bytes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        name = str(path.relative_to(root)) if root is not None else path.name
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_classification(path: Path) -> Dataset:
    examples = [
        Example(where, text=_string(r, "text", where), label=_string(r, "label", where))
        for where, r in _records(path)
    ]
    return _dataset(path, examples)


def _span(entity: Any, text: str, where: str) -> Span:
    if not isinstance(entity, dict):
        raise DataError(f"{where}: each entity must be an object with start, end, label")
    start, end, label = entity.get("start"), entity.get("end"), entity.get("label")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
        raise DataError(f"{where}: entity {entity!r}: start/end must be offsets into the text")
    if not isinstance(label, str) or not label:
        raise DataError(f"{where}: entity {entity!r}: label is required")
    return (start, end, label)


def read_entities(path: Path) -> Dataset:
    examples = []
    for where, r in _records(path):
        text = _string(r, "text", where)
        spans = r.get("entities", [])
        if not isinstance(spans, list):
            raise DataError(f"{where}: entities must be a list")
        examples.append(
            Example(where, text=text, entities=tuple(_span(e, text, where) for e in spans))
        )
    return _dataset(path, examples)


def read_retrieval(queries: Path, corpus: Path) -> Dataset:
    docs = [
        Example(where, text=_string(r, "text", where), id=_string(r, "id", where, "_id"))
        for where, r in _records(corpus)
    ]
    ids = {d.id for d in docs}
    if len(ids) != len(docs):
        raise DataError(f"{corpus}: document ids must be unique")
    examples = []
    for where, r in _records(queries):
        relevant = r.get("relevant")
        if not isinstance(relevant, list) or not relevant:
            raise DataError(f"{where}: relevant must be a non-empty list of document ids")
        unknown = {str(x) for x in relevant} - ids
        if unknown:
            raise DataError(f"{where}: relevant ids not in the corpus: {sorted(unknown)[:3]}")
        examples.append(
            Example(
                where,
                text=_string(r, "text", where, "query"),
                relevant=frozenset(str(x) for x in relevant),
                id=str(r.get("id", where)),
            )
        )
    dataset = _dataset(queries, examples)
    dataset.corpus = docs
    dataset.corpus_sha256 = _file_hash(corpus)
    return dataset


def read_image_folder(folder: Path) -> Dataset:
    """Every image of `folder/<label>/`, labelled by its subfolder's name."""
    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder with one subfolder per label")
    files = sorted(
        p for p in folder.glob("*/*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise DataError(f"{folder}: no images in its subfolders (one subfolder per label)")
    examples = [
        Example(str(p.relative_to(folder)), data=p.read_bytes(), label=p.parent.name) for p in files
    ]
    return Dataset(str(folder), examples, sha256_files(files, folder), len(files))


def _dataset(path: Path, examples: Sequence[Example]) -> Dataset:
    if not examples:
        raise DataError(f"{path}: no records")
    return Dataset(str(path), list(examples), _file_hash(path))
