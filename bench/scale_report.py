"""What bench/scale.py's figures become: rows (the medians of each side, fake/real, the goal
and whether it is met), bench/results/scale.{json,md} (a selection replaces its own rows) and
bench/results/scale.png (the chart); ``python bench/scale.py --render`` redraws them from
scale.json alone.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

SELECTIONS = ("qd1", "layouts", "clients", "ready", "memory", "bricks")
GOALS: dict[str, float] = {
    "128k seq write MiB/s": 0.5,
    "128k seq read MiB/s": 0.5,
    "4k randread QD1 IOPS": 1.0,
    "qemu-img bench 64k QD64 write MiB/s": 0.5,
    "qemu-img bench 64k QD64 read MiB/s": 0.5,
    "16 clients 4k randread IOPS": 0.5,
    "64 clients 4k randread IOPS": 0.5,
    "2 x 3 time to ready s": 0.05,
    "1 brick time to ready s": 0.05,
}
#: absolute goals on the fake's own figure (issue #16: "an idle brick < 2 MiB, an idle connection < 32 KiB")
FAKE_BELOW = {"idle brick RSS MiB": 2.0, "idle connection RSS KiB": 32.0}

Results = dict[str, dict[str, list[float]]]  # metric -> side -> samples


def add(res: Results, metric: str, side: str, value: float) -> None:
    res.setdefault(metric, {}).setdefault(side, []).append(value)


def goal_of(metric: str) -> float | None:
    for suffix, goal in GOALS.items():
        if metric.endswith(suffix) and not metric.startswith(
            ("1 clients", "4 clients", "1 bricks", "6 bricks", "24 b")
        ):
            return goal
    return None


def rows_of(res: Results, selection: str) -> list[dict[str, Any]]:
    rows = []
    for metric, by in res.items():
        fake = statistics.median(by["fake"]) if by.get("fake") else None
        real = statistics.median(by["real"]) if by.get("real") else None
        ratio = fake / real if fake is not None and real else None
        goal = goal_of(metric)
        met = None
        if goal is not None and ratio is not None:
            met = ratio <= goal if "time to ready" in metric else ratio >= goal
        elif metric in FAKE_BELOW and fake is not None:
            met = fake < FAKE_BELOW[metric]
        rows.append({"selection": selection, "metric": metric, "fake": fake, "real": real, "ratio": ratio,
                     "goal": goal, "met": met, "samples": by})  # fmt: skip
    return rows


def save(new_rows: list[dict[str, Any]], selections: list[str], reps: int) -> list[dict[str, Any]]:
    path = HERE / "results" / "scale.json"
    old = json.loads(path.read_text()) if path.exists() else {"rows": []}
    rows = [r for r in old["rows"] if r["selection"] not in selections] + new_rows
    rows.sort(key=lambda r: SELECTIONS.index(r["selection"]))
    out = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "reps": reps, "load": os.getloadavg(), "rows": rows}
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        "| selection | metric | fake | real | fake/real | goal | met | runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:

        def f(v: float | None) -> str:
            return "" if v is None else f"{v:.3f}" if v < 10 else f"{v:.0f}"

        goal = "" if r["goal"] is None else ("<= " if "time to ready" in r["metric"] else ">= ") + str(r["goal"])
        if r["metric"] in FAKE_BELOW:
            goal = f"fake < {FAKE_BELOW[r['metric']]:g}"
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        runs = max(len(v) for v in r["samples"].values())
        lines.append(
            f"| {r['selection']} | {r['metric']} | {f(r['fake'])} | {f(r['real'])} | {ratio} | {goal} | {met} "
            f"| {runs} |"
        )
    lines.append(
        f"\n{time.strftime('%Y-%m-%d %H:%M')}: medians of alternating runs ('runs'); load now {os.getloadavg()[0]:.1f}"
    )
    (HERE / "results" / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return rows


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Three panels: fake/real per layout workload; IOPS by clients; figures by brick count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 6))
    ratio_rows = [r for r in rows if r["ratio"] is not None and r["selection"] in SELECTIONS[:5]]
    ax = axes[0]
    colors = ["tab:green" if r["met"] else "tab:red" if r["met"] is False else "tab:gray" for r in ratio_rows]
    ax.barh(range(len(ratio_rows)), [r["ratio"] for r in ratio_rows], color=colors)
    for i, r in enumerate(ratio_rows):
        if r["goal"] is not None:
            ax.plot([r["goal"]] * 2, [i - 0.4, i + 0.4], color="black", linewidth=2)
        ax.text(r["ratio"], i, f" {r['ratio']:.2f}", va="center", fontsize=7)
    ax.set_yticks(range(len(ratio_rows)), [r["metric"] for r in ratio_rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_title("fake / real (black: goal)", fontsize=9)

    def series(pattern: str) -> tuple[list[int], dict[str, list[float]]]:
        xs, ys = [], {"fake": [], "real": []}
        for r in rows:
            m = re.fullmatch(pattern, r["metric"])
            if m and r["fake"] is not None and r["real"] is not None:
                xs.append(int(m.group(1)))
                ys["fake"].append(r["fake"])
                ys["real"].append(r["real"])
        order = sorted(range(len(xs)), key=xs.__getitem__)
        return [xs[i] for i in order], {k: [v[i] for i in order] for k, v in ys.items()}

    ax = axes[1]
    xs, ys = series(r"(\d+) clients 4k randread IOPS")
    for k, v in ys.items():
        ax.plot(xs, v, marker="o", label=k)
    if xs:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent fio gfapi jobs (one-brick volume)")
    ax.set_ylabel("aggregate 4k randread IOPS")
    ax.legend()
    ax.set_title("clients", fontsize=9)

    ax = axes[2]
    for pattern, label in (
        (r"(\d+) bricks time to ready s", "time to ready s"),
        (r"(\d+) bricks idle RSS MiB", "idle RSS MiB"),
        (r"(\d+) bricks 16 clients 4k randread IOPS", "16 clients kIOPS"),
    ):
        xs, ys = series(pattern)
        if not xs:
            continue
        scale = 1e-3 if "IOPS" in label else 1
        for k, v in ys.items():
            ax.plot(xs, [y * scale for y in v], marker="o" if k == "fake" else "s",
                    linestyle="-" if k == "fake" else "--", label=f"{label} ({k})")  # fmt: skip
    if ax.lines:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("bricks (distribute volume)")
    ax.legend(fontsize=7)
    ax.set_title("bricks", fontsize=9)
    fig.suptitle("fakegluster vs GlusterFS 10.3 at scale (2 shared vCPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def render() -> None:
    """scale.md and scale.png again from scale.json (no run)."""
    old = json.loads((HERE / "results" / "scale.json").read_text())["rows"]
    rows = [
        r for sel in SELECTIONS for r in rows_of({o["metric"]: o["samples"] for o in old if o["selection"] == sel}, sel)
    ]
    chart(save(rows, list(SELECTIONS), 0), HERE / "results" / "scale.png")
