"""Whether an installed file is as its package was installed: its sha256 in the ``RECORD`` of the
``*.dist-info`` that installed it (pip writes one per distribution). Such a file is the package's own
code, not something written into the virtualenv since; a file no RECORD names, named by two, or whose
content changed is not. (Whoever can rewrite both a file and its RECORD can also rewrite Alembic in the
same virtualenv: that is beyond what reading migrations can vouch for.)"""

from __future__ import annotations

import base64
import csv
import hashlib
from pathlib import Path


def recorded_hashes(site_packages: Path) -> dict[str, str]:
    """Path relative to ``site_packages`` -> its sha256 digest as RECORD spells it; '' where two disagree."""
    hashes: dict[str, str] = {}
    for record in sorted(site_packages.glob("*.dist-info/RECORD")):
        try:
            rows = list(csv.reader(record.read_text(encoding="utf-8").splitlines()))
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        for row in rows:
            if len(row) < 2 or not row[1].startswith("sha256="):
                continue
            digest = row[1].removeprefix("sha256=")
            hashes[row[0]] = digest if hashes.get(row[0], digest) == digest else ""
    return hashes


def as_installed(path: Path, site_packages: Path, hashes: dict[str, str]) -> bool:
    """``path`` holds exactly what its distribution installed."""
    try:
        expected = hashes.get(path.relative_to(site_packages).as_posix())
        content = path.read_bytes() if expected else b""
    except (OSError, ValueError):
        return False
    actual = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return bool(expected) and actual == expected
