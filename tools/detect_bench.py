#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Detection scored over many synthetic days: recall and time to detection
per extractor pattern, false alerts per 1,000 benign clients a day, and how
the false alerts and the recall move with the z-score setting.

  detect_bench.py --md OUT.md --png OUT.png [--seeds N] [--first-seed F] [--hours H]
                  [--scenario pop-mixed] [--pop-scale F] [--zscores 2.5,3,3.5,4,5]
                  [--jobs J]

For each seed: tools/scenario.py writes the day (--scenario, --hours, from
00:00 UTC), tools/detect_eval.py --config-out its replay config (the
endpoint, the allow-listed batch job exempt), then `penstock replay
--config --json` runs once for each z-score setting (detection.zscore,
every other key at its default) and detect_eval.py --json judges each run
against the labels. The capture is removed once its replays are done.
--jobs J runs J seeds at once (each a capture on disk: about 7 GB for a
24 h pop-mixed day); the tables are in seed order either way.
--keep-evals DIR keeps each seed's judgement (DIR/seed-N-zZ.json);
--from-evals DIR makes the tables and plot from such files, generating and
replaying nothing (a run resumed, or made by hand seed by seed).

OUT.md: the tables (per pattern at the default z-score 3.5, the z-score
sweep, the time each step took); OUT.png: time to detection per pattern
(each seed a point, the target a line) and false alerts per 1,000 benign
clients a day with the recall against the z-score. matplotlib (Debian
python3-matplotlib) for the plot.

Environment: PS_BIN (penstock at $PS_BIN/penstock, default .output).
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_Z = 3.5
TARGETS = {"high-rate": 60, "outflow": 120, "hydra": 600, "low-slow": 6 * 3600}


def run(cmd, **kw):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, **kw)
    return time.monotonic() - t0


def fmt_dur(s):
    if s is None:
        return "-"
    if s < 120:
        return "%.0f s" % s
    if s < 7200:
        return "%.1f min" % (s / 60)
    return "%.2f h" % (s / 3600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--md", required=True)
    ap.add_argument("--png", required=True)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=1,
                    help="the first seed: seeds FIRST..SEEDS (a run resumed)")
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--scenario", default="pop-mixed")
    ap.add_argument("--pop-scale", type=float, default=1.0)
    ap.add_argument("--zscores", default="2.5,3,3.5,4,5")
    ap.add_argument("--jobs", type=int, default=1, help="seeds at once (1)")
    ap.add_argument("--keep-evals", metavar="DIR",
                    help="write each seed's detect_eval.py --json (DIR/seed-N-zZ.json)")
    ap.add_argument("--from-evals", metavar="DIR",
                    help="no capture: the tables and plot from DIR/seed-N-zZ.json")
    a = ap.parse_args()
    zs = [float(z) for z in a.zscores.split(",")]
    if DEFAULT_Z not in zs:
        zs.append(DEFAULT_Z)
    zs.sort()
    penstock = os.path.join(os.environ.get("PS_BIN", os.path.join(TOP, ".output")), "penstock")
    work = tempfile.mkdtemp(prefix="detect-bench.")
    per_z = {z: [] for z in zs}     # z -> [eval json per seed]
    timing = []

    def one_seed(seed):
        """Generate, replay at every z-score and judge one seed's day."""
        d = os.path.join(work, "seed-%d" % seed)
        os.mkdir(d)
        cap, lab = os.path.join(d, "day.pcap"), os.path.join(d, "day.json")
        gen = run([sys.executable, os.path.join(TOP, "tools", "scenario.py"), "--scenario",
                   a.scenario, "--hours", str(a.hours), "--seed", str(seed),
                   "--pop-scale", str(a.pop_scale), "--out", cap, "--labels", lab, "-q"])
        base = os.path.join(d, "base.yaml")
        run([sys.executable, os.path.join(TOP, "tools", "detect_eval.py"), "--config-out",
             base, lab])
        size = os.path.getsize(cap)
        rep_s, evs = [], {}
        for z in zs:
            cfg = os.path.join(d, "z.yaml")
            with open(base) as f, open(cfg, "w") as g:
                g.write(f.read() + "detection:\n  zscore: %g\n" % z)
            out = os.path.join(d, "replay.json")
            with open(out, "w") as f:
                rep_s.append(run([penstock, "replay", "--config", cfg, "--json", cap],
                                 stdout=f))
            ev = subprocess.run([sys.executable, os.path.join(TOP, "tools", "detect_eval.py"),
                                 "--json", "--no-fail", lab, out], check=True,
                                capture_output=True, text=True).stdout
            evs[z] = json.loads(ev)
            if a.keep_evals:
                with open(os.path.join(a.keep_evals, "seed-%d-z%g.json" % (seed, z)), "w") as f:
                    f.write(ev)
        with open(lab) as f:
            packets = json.load(f)["packets"]
        shutil.rmtree(d, ignore_errors=True)
        sys.stderr.write("detect_bench: seed %d: generated %.0f s, %d packets, replays %s s\n"
                         % (seed, gen, packets, ", ".join("%.0f" % r for r in rep_s)))
        return evs, (seed, gen, size, packets, rep_s)

    if a.from_evals:
        for seed in range(a.first_seed, a.seeds + 1):
            for z in zs:
                with open(os.path.join(a.from_evals, "seed-%d-z%g.json" % (seed, z))) as f:
                    per_z[z].append(json.load(f))
    try:
        # Seeds side by side (--jobs): a seed's generation and replays are
        # one process at a time each.
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
            for evs, tm in ex.map(one_seed, [] if a.from_evals else range(a.first_seed, a.seeds + 1)):
                for z in zs:
                    per_z[z].append(evs[z])
                timing.append(tm)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def rows_of(evals):
        pats = {}
        for e in evals:
            for r in e["extractors"]:
                k = r["group"] or r["pattern"]
                pats.setdefault(k, []).append(r)
        return pats

    def fp_rate(evals):
        fp = sum(len(e["false_positives"]) for e in evals)
        n = sum(e["benign_clients"] for e in evals)
        days = sum(e["hours"] for e in evals) / 24.0
        return fp, n, (1000.0 * fp / n / (days / len(evals)) if n else 0.0)

    pats = rows_of(per_z[DEFAULT_Z])
    lines = ["| pattern | seeds | detected | time to detection: median | max | target | "
             "within target | detectors |", "|---|---:|---:|---:|---:|---|---:|---|"]
    for k in sorted(pats):
        rs = pats[k]
        pat = rs[0]["pattern"]
        tt = [r["time_to_detection_s"] for r in rs if r["detected"]]
        tgt = TARGETS.get(pat)
        met = sum(1 for r in rs if r["detected"] and (tgt is None or
                                                      r["time_to_detection_s"] <= tgt))
        dets = sorted({d for r in rs for d in r["detectors"][:1]})
        lines.append("| %s | %d | %d/%d | %s | %s | %s | %d/%d | %s |" % (
            k, len(rs), len(tt), len(rs), fmt_dur(statistics.median(tt)) if tt else "-",
            fmt_dur(max(tt)) if tt else "-", fmt_dur(tgt) if tgt else "detected", met, len(rs),
            ", ".join(dets)))
    fp, nb, rate = fp_rate(per_z[DEFAULT_Z])
    zl = ["| zscore | extractors detected | false alerts (benign clients alerted) | "
          "benign clients | per 1,000 benign clients a day | allow-listed alerted |",
          "|---:|---:|---:|---:|---:|---:|"]
    sweep = []
    for z in zs:
        ev = per_z[z]
        det = sum(r["detected"] for e in ev for r in e["extractors"])
        tot = sum(len(e["extractors"]) for e in ev)
        f, n, r = fp_rate(ev)
        al = sum(len(e["eval_alerted"]) for e in ev)
        sweep.append((z, det / tot if tot else 0, r))
        zl.append("| %g | %d/%d | %d | %d | %.2f | %d |" % (z, det, tot, f, n, r, al))
    fps = {}
    fp_rows = []
    for seed, e in enumerate(per_z[DEFAULT_Z], a.first_seed):
        for x in e["false_positives"]:
            k = (x["label"], x["first"]["detector"])
            fps[k] = fps.get(k, 0) + 1
            fp_rows.append("| %d | %s | %s | %s | %s | %s |" % (
                seed, x["client"], x["label"], x["first"]["subject"], x["first"]["detector"],
                x["first"]["time"]))
    tl = ["| seed | generate s | capture MB | packets | replay s (each z-score) |",
          "|---:|---:|---:|---:|---|"]
    for seed, gen, size, packets, rep_s in timing:
        tl.append("| %d | %.0f | %.0f | %d | %s |" % (seed, gen, size / 1e6, packets,
                                                       ", ".join("%.0f" % r for r in rep_s)))
    with open(a.md, "w") as f:
        f.write("Scenario `%s`, %g h from 00:00 UTC, seeds %d-%d, pop-scale %g; "
                "detection at its defaults (zscore %g).\n\n" % (a.scenario, a.hours, a.first_seed, a.seeds,
                                                                a.pop_scale, DEFAULT_Z))
        f.write("\n".join(lines) + "\n\n")
        f.write("False alerts at zscore %g: %d benign or integration clients alerted of %d "
                "(%.2f per 1,000 benign clients a day)%s.\n\n" % (
                    DEFAULT_Z, fp, nb, rate, "" if not fps else ": " + ", ".join(
                        "%d %s by %s" % (v, k[0], k[1]) for k, v in sorted(fps.items()))))
        if fp_rows:
            f.write("| seed | client | label | alert's subject | detector | first alert |\n"
                    "|---:|---|---|---|---|---|\n" + "\n".join(fp_rows) + "\n\n")
        f.write("The z-score setting (detection.zscore) against recall and false alerts:\n\n")
        f.write("\n".join(zl) + "\n\n")
        if timing:
            f.write("What each step took:\n\n" + "\n".join(tl) + "\n")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    names = sorted(pats)
    for i, k in enumerate(names):
        tt = [r["time_to_detection_s"] for r in pats[k] if r["detected"]]
        ax1.scatter([i] * len(tt), tt, s=18, alpha=0.7)
        tgt = TARGETS.get(pats[k][0]["pattern"])
        if tgt:
            ax1.hlines(tgt, i - 0.35, i + 0.35, colors="red", linestyles="dashed")
        missed = sum(1 for r in pats[k] if not r["detected"])
        if missed:
            ax1.annotate("%d missed" % missed, (i, 1), ha="center", fontsize=8, color="red")
    ax1.set_yscale("log")
    ax1.set_xticks(range(len(names)))
    ax1.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax1.set_ylabel("time to detection (s, capture clock)")
    ax1.set_title("time to detection per pattern (red: target)")
    ax2.plot([s[0] for s in sweep], [s[2] for s in sweep], "o-", label="false alerts")
    ax2.set_xlabel("detection.zscore")
    ax2.set_ylabel("false alerts per 1,000 benign clients a day")
    ax3 = ax2.twinx()
    ax3.plot([s[0] for s in sweep], [100 * s[1] for s in sweep], "s--", color="green",
             label="recall")
    ax3.set_ylabel("extractors detected (%)")
    ax3.set_ylim(0, 105)
    ax2.set_title("false alerts and recall against the z-score")
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
