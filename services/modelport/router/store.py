"""SQLite persistence for admin registrations and traffic splits (survive a restart).

Leased self-registrations are not stored: backends register again by themselves.
Calls are small and run in a worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from modelport.router.registry import Registration, ReplicaState, Source

_SCHEMA = """
CREATE TABLE IF NOT EXISTS registrations (
    name TEXT NOT NULL, version TEXT NOT NULL, endpoint TEXT NOT NULL,
    task TEXT NOT NULL, metadata TEXT NOT NULL,
    PRIMARY KEY (name, version, endpoint)
);
CREATE TABLE IF NOT EXISTS splits (name TEXT PRIMARY KEY, weights TEXT NOT NULL);
"""


class RegistryStore:
    """`registry.sqlite3` under the router's data dir."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "registry.sqlite3"
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def load(self) -> tuple[list[Registration], dict[str, dict[str, int]]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT name, version, endpoint, task, metadata FROM registrations"
            ).fetchall()
            split_rows = db.execute("SELECT name, weights FROM splits").fetchall()
        registrations = [
            Registration(
                name,
                version,
                endpoint,
                task,
                ReplicaState.READY,
                Source.PERSISTENT,
                metadata=json.loads(metadata),
            )
            for name, version, endpoint, task, metadata in rows
        ]
        return registrations, {name: json.loads(weights) for name, weights in split_rows}

    def _save(self, r: Registration) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO registrations VALUES (?, ?, ?, ?, ?)",
                (r.name, r.version, r.endpoint, r.task, json.dumps(r.metadata)),
            )

    def _delete(self, name: str, version: str, endpoint: str) -> None:
        with self._connect() as db:
            db.execute(
                "DELETE FROM registrations WHERE name=? AND version=? AND endpoint=?",
                (name, version, endpoint),
            )

    def _save_split(self, name: str, weights: dict[str, int]) -> None:
        with self._connect() as db:
            if weights:
                db.execute(
                    "INSERT OR REPLACE INTO splits VALUES (?, ?)", (name, json.dumps(weights))
                )
            else:
                db.execute("DELETE FROM splits WHERE name=?", (name,))

    async def save(self, registration: Registration) -> None:
        await asyncio.to_thread(self._save, registration)

    async def delete(self, name: str, version: str, endpoint: str) -> None:
        await asyncio.to_thread(self._delete, name, version, endpoint)

    async def save_split(self, name: str, weights: dict[str, int]) -> None:
        await asyncio.to_thread(self._save_split, name, weights)
