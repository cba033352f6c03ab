"""The size check (``make verdicts``): the same pairs' per-pair Δ at each size published in docs/results/
pooling_sizes_SIZE/compare.json, compared by sign and rank (``nstjax.stats.agreement``), written to
docs/results/pooling_sizes.json with each size's verdict."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

from nstjax.stats.agreement import across_sizes

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"


def main() -> None:
    summaries = {}
    for path in sorted(RESULTS.glob("pooling_sizes_*/compare.json")):
        summaries[int(path.parent.name.rsplit("_", 1)[1])] = json.loads(path.read_text())
    metrics = ["style_gram", "style_swd"]
    verdicts = {
        size: {c["metric"]: {k: c[k] for k in ("verdict", "delta", "ci95", "df")} for c in s["comparisons"]}
        for size, s in sorted(summaries.items())
    }
    record = {
        "sizes": sorted(summaries),
        "verdicts": verdicts,
        "agreement": across_sizes(summaries, metrics),
        "date": date.today().isoformat(),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    }
    (RESULTS / "pooling_sizes.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: record[k] for k in ("verdicts", "agreement")}, indent=1))


if __name__ == "__main__":
    main()
