"""The calibration curve of `voiceprint calibrate --png`: precision and recall against the matching threshold, with
the proposed threshold marked. Run in .venv-plot (matplotlib stays out of the CLI's venv and the layer):

    .venv-plot/bin/python scripts/plot_calibration.py CURVE.json OUT.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt


def main(curve_path: str, out_path: str) -> None:
    data = json.loads(Path(curve_path).read_text())
    points = data["points"]
    thresholds = [p["threshold"] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in ("precision", "recall"):
        ax.plot(thresholds, [p[name] for p in points], label=name)
    if data.get("proposed") is not None:
        ax.axvline(data["proposed"], color="grey", linestyle="--", label=f"proposed {data['proposed']}")
    if data.get("current") is not None:
        ax.axvline(data["current"], color="red", linestyle=":", label=f"in use {data['current']}")
    ax.set_xlabel("matching threshold")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"group {data['group'] or '(top level)'}: {data['reviewed']} reviewed speakers")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
