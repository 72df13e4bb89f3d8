"""The journal: every finished cell of a matrix, one JSON line each, written the moment the cell finishes.

It lives in the output folder as ``journal.jsonl``. The first line is a header holding the
run's fingerprint (``spec.fingerprint``): what decides a cell's numbers apart from its dataset,
config and seed (epochs, batch size, lr, device, engine, each dataset with its content hash, the code). Every later line
is one record
(``RunRecord.as_dict``), appended, flushed and fsynced, so a crash or a Ctrl-C loses only the
cells in flight; results.json, the report and the plots are assembled from it.

Running the same command on the same folder resumes. A cell whose latest record is final (ok or
diverged) and was trained by the same config hash is skipped; a cell that errored, crashed or
timed out is trained again. A journal of another run is refused with the reason, never mixed in:
another fingerprint, or a config of the same name with another definition (hash).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from regbench.errors import UsageError
from regbench.files import append_line, atomic_path
from regbench.records import RunRecord

__all__ = ["FILENAME", "Journal", "JournalError"]

FILENAME = "journal.jsonl"
VERSION = 1


class JournalError(UsageError):
    """The output folder holds the journal of another run; the message says what differs and what to do."""


class Journal:
    """An output folder's journal: the records it holds, and appending new ones."""

    def __init__(self, path: Path, fingerprint: dict, records: list[RunRecord]) -> None:
        self.path, self.fingerprint = path, fingerprint
        self.latest: dict[tuple[Optional[str], str, int], RunRecord] = {}
        for record in records:
            self.latest[_key(record)] = record  # a later line supersedes an earlier one (a retried cell)

    @classmethod
    def open(cls, folder: Path | str, fingerprint: dict, definitions: dict[str, str]) -> "Journal":
        """The folder's journal, created with this run's fingerprint, or read back and checked against it and the
        configs' hashes.
        """
        path = Path(folder) / FILENAME
        header, records = _read(path) if path.exists() else (None, [])
        if header is None:  # a new folder (or a journal whose header line a crash cut short)
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps({"journal": VERSION, "fingerprint": fingerprint}) + "\n", encoding="utf-8")
            return cls(path, fingerprint, [])
        if not isinstance(header, dict) or header.get("journal") != VERSION:
            raise JournalError(
                f"{path}: not a regbench journal of version {VERSION}; use another --out, or remove the file to start"
                " again"
            )
        if header.get("fingerprint") != fingerprint:
            differs = "; ".join(
                f"{k}: {header.get('fingerprint', {}).get(k)} -> {fingerprint.get(k)}"
                for k in sorted(fingerprint)
                if header.get("fingerprint", {}).get(k) != fingerprint.get(k)
            )
            raise JournalError(
                f"{path} holds a run with other settings or code ({differs}); resuming would mix them: "
                "use another --out, or remove the journal to start again"
            )
        for record in records:
            if record.config in definitions and record.config_hash != definitions[record.config]:
                raise JournalError(
                    f"{path}: config {record.config!r} was trained there as definition {record.config_hash}, this run"
                    f" defines it as {definitions[record.config]}; resuming would mix them: rename the config, use"
                    " another --out, or remove the journal"
                )
        return cls(path, fingerprint, records)

    def done(self, dataset: Optional[str], config: str, seed: int) -> Optional[RunRecord]:
        """The cell's final record (ok or diverged), or None when it must be trained (never, or it errored, crashed
        or timed out).
        """
        record = self.latest.get((dataset, config, seed))
        return record if record is not None and record.final else None

    def __len__(self) -> int:
        """Cells it holds a final record of: what a resumed run will not train again."""
        return sum(r.final for r in self.latest.values())

    def append(self, record: RunRecord) -> None:
        """One more finished cell, on disk before this returns."""
        append_line(self.path, record.as_dict())
        self.latest[_key(record)] = record


def _key(record: RunRecord) -> tuple[Optional[str], str, int]:
    """A cell's identity: dataset, config, seed."""
    return record.dataset, record.config, record.seed


def _read(path: Path) -> tuple[Optional[dict], list[RunRecord]]:
    """The header (None for an empty file) and every whole record; a last line a crash cut short is cut off (its cell
    is trained again).
    """
    text = path.read_text(encoding="utf-8")
    complete, _, fragment = text.rpartition(
        "\n"
    )  # each line is written whole with its newline: text after the last one is torn
    if fragment:
        with open(path, "r+b") as f:
            f.truncate(len(complete.encode("utf-8")) + 1 if complete else 0)
            f.flush()
            os.fsync(f.fileno())
    parsed = []
    for number, line in enumerate(complete.split("\n") if complete else [], start=1):
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise JournalError(
                f"{path}, line {number}: not JSON ({error.msg}); the journal is damaged: use another --out, or"
                " remove it"
            ) from None
    return (parsed[0], [RunRecord.from_dict(line) for line in parsed[1:]]) if parsed else (None, [])
