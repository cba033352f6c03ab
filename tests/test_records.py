"""Every number has its record: each interval README quotes ("0.052 [0.007, 0.090]") is found, at the precision
it is printed with, in a committed comparison record (docs/results/NAME/compare.json), so prose cannot drift
from data; every record names its hardware, date and commit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results"
NUMBER = r"[−-]?\d+(?:\.\d+)?"
INTERVAL = re.compile(rf"({NUMBER}) \[({NUMBER}), ({NUMBER})\]")


def _float(text: str) -> float:
    return float(text.replace("−", "-"))


def _decimals(text: str) -> int:
    return len(text.partition(".")[2])


def quoted_intervals(text: str) -> list[tuple[str, str, str]]:
    """Every "estimate [low, high]" in ``text``, as printed."""
    return INTERVAL.findall(text)


def recorded_intervals(record: dict) -> list[tuple[float, float, float]]:
    """(estimate, low, high) of each comparison in a compare.json: the primary's and the sensitivity figures'."""
    out = []
    for c in record.get("comparisons", []):
        pairs = [(c.get("delta"), c.get("ci95"))]
        s = c.get("sensitivity") or {}
        pairs += [(s.get("delta_pareto"), s.get("ci95_pareto")), (c.get("delta"), s.get("ci95_bootstrap"))]
        pairs += [(c.get("delta"), (s.get("by_group") or {}).get("ci95"))]
        out += [(d, *ci) for d, ci in pairs if d is not None and ci and None not in ci]
    return out


def matches(quoted: tuple[str, str, str], recorded: tuple[float, float, float]) -> bool:
    """Each printed number equals the recorded one rounded to the printed decimals (half a unit of the last
    printed digit, and a little float slack)."""
    return all(abs(_float(q) - r) <= 0.5 * 10 ** -_decimals(q) + 1e-12 for q, r in zip(quoted, recorded, strict=True))


def test_the_interval_matcher_finds_what_is_there_and_only_that():
    record = {"comparisons": [{"delta": 0.05234, "ci95": [0.0071, 0.0899], "sensitivity": {}}]}
    found = recorded_intervals(record)
    assert quoted_intervals("avg is 0.052 [0.007, 0.090] further; −0.1 [−0.2, 0.3]") == [
        ("0.052", "0.007", "0.090"),
        ("−0.1", "−0.2", "0.3"),
    ]
    assert matches(("0.052", "0.007", "0.090"), found[0]) and matches(("0.05", "0.01", "0.09"), found[0])
    assert not matches(("0.053", "0.007", "0.090"), found[0]) and not matches(("0.052", "0.007", "0.091"), found[0])


def records() -> list[Path]:
    return sorted(RESULTS.glob("*/compare.json"))


def test_every_interval_readme_quotes_is_in_a_committed_record():
    quoted = quoted_intervals((REPO / "README.md").read_text())
    assert quoted, "README quotes no interval: the verdicts' paragraph is gone"
    recorded = [r for path in records() for r in recorded_intervals(json.loads(path.read_text()))]
    missing = [" ".join(q) for q in quoted if not any(matches(q, r) for r in recorded)]
    assert not missing, f"README quotes intervals no docs/results/*/compare.json holds: {missing}"


@pytest.mark.parametrize("path", records(), ids=lambda p: p.parent.name)
def test_each_comparison_record_names_its_hardware_date_and_commit(path):
    provenance = json.loads((path.parent / "provenance.json").read_text())
    assert provenance["cpu"] and provenance["date"] and re.fullmatch(r"[0-9a-f]{40}", provenance["commit"])
    assert (path.parent / "compare.md").is_file()
