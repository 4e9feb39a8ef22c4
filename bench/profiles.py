"""Summaries of the py-spy profiles ``make bench BENCH_ARGS=--profile`` records: the share of
sampled time spent in each frame of the project's code (inclusive), per profile.

    .venv/bin/python -m bench.profiles bench/results/profiles/*.speedscope
"""

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
OURS = ("billing/", "bench/", "accounts/", "portal/")


def summary(path: Path, top: int = 25) -> str:
    data = json.loads(path.read_text())
    frames = data["shared"]["frames"]
    inclusive: Counter = Counter()
    total = 0.0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            total += weight
            seen = set()
            for index in stack:
                frame = frames[index]
                where = frame.get("file", "")
                if "site-packages" in where or "/lib/python" in where:
                    continue
                short = where.split(f"{ROOT}/")[-1]
                if not short.startswith(OURS):
                    continue
                key = f"{frame['name']} ({short}:{frame.get('line', '')})"
                if key not in seen:
                    seen.add(key)
                    inclusive[key] += weight
    lines = [f"{path.name}: {total:.1f} s of sampled CPU"]
    for key, weight in inclusive.most_common(top):
        lines.append(f"  {100 * weight / total:5.1f} %  {key}")
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(summary(Path(name)) for name in sys.argv[1:]))
