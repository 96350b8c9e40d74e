"""The pacing run's picture: per window, the submits the limit let through, the 429s, and the backlog left, one
panel per number of submit containers. Run by the reliability script in .venv-plot (matplotlib stays out of the
layer and of the tests' venv).

    .venv-plot/bin/python scripts/plot_pacing.py PACING.json OUT.png

PACING.json: a list of {"containers", "limit", "window_seconds", "per_window": [[submits, 429s, backlog], ...]}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt


def main(source: str, out: str) -> None:
    runs = json.loads(Path(source).read_text())
    fig, axes = plt.subplots(len(runs), 1, figsize=(9, 2.6 * len(runs)), sharex=True, squeeze=False)
    for ax, run in zip(axes[:, 0], runs, strict=True):
        windows = range(1, len(run["per_window"]) + 1)
        submits = [w[0] for w in run["per_window"]]
        limited = [w[1] for w in run["per_window"]]
        backlog = [w[2] for w in run["per_window"]]
        ax.bar(windows, submits, color="#4878a8", label="submits")
        ax.bar(windows, limited, bottom=submits, color="#d1495b", label="429s")
        ax.axhline(run["limit"], color="grey", linestyle="--", linewidth=0.8, label="limit")
        ax.set_ylabel("per window")
        ax.set_title(
            f"{run['containers']} submit container(s): {run['limit']} submits per {run['window_seconds']} s window",
            fontsize=10,
        )
        twin = ax.twinx()
        twin.plot(windows, backlog, color="#2e2e2e", linewidth=1.2, label="backlog")
        twin.set_ylabel("backlog")
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("window")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
