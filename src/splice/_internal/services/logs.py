"""Service logs kept after a run: copied out of the run's temporary folders into
`.splice/logs/<run id>/` (the last `KEEP` runs), with every secret masked on the way.

The copy is the only one that outlives the run: the store's artifacts, the HTML and JSON
reports and the dashboard all read the kept file, so masking here masks them all. A log is
masked line by line (a line is the unit a server writes; memory stays bounded by it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from splice._internal.masking import Masker

KEEP = 20  # runs whose service logs are kept


def keep_logs(folder: Path, run_id: str, logs: dict[str, Path], masker: Masker) -> dict[str, Path]:
    """Copy each log to `folder/run_id/NAME.log`, masked; the kept paths by service."""
    target = folder / run_id
    target.mkdir(parents=True, exist_ok=True)
    runs = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime)
    for old in runs[:-KEEP]:  # keep the logs of the last runs only
        shutil.rmtree(old, ignore_errors=True)
    kept = {}
    for name, path in logs.items():
        if not path.is_file():
            continue
        copy = target / f"{name}.log"
        with path.open("rb") as source, copy.open("wb") as out:
            for line in source:
                out.write(masker.data(line))
        kept[name] = copy
    return kept
