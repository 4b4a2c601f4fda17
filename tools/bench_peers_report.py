#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""make bench-peers' figures: parses what iperf3, wrk, h2load and ps_load
print into one JSON object each (the parse-* commands, for
tools/bench_peers.sh), and turns a run's results into BENCHMARKS.md's
"Against peers" section and a chart (report).

Every figure of the report is a ratio to the same round's baseline (the
set-up `none`), taken per round; the table gives the median over the
rounds and the spread (lowest..highest)."""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys

START = "<!-- bench-peers:start -->"
END = "<!-- bench-peers:end -->"
SETUPS = ["none", "penstock", "penstock-xdp", "iptables", "nftables", "proxy"]


def parse_iperf3(a):
    r = json.load(sys.stdin)
    if "error" in r:
        sys.exit("iperf3: " + r["error"])
    gbit = r["end"]["sum_received"]["bits_per_second"] / 1e9
    busy = a.busy / os.sysconf("SC_CLK_TCK") / a.seconds     # CPUs busy, on average
    return {"gbit": gbit,
            "srv_cpu_per_gbit": r["end"]["cpu_utilization_percent"]["remote_total"] / gbit,
            "cpu_per_gbit": busy * 100 / gbit}


def _us(s):
    v, u = re.fullmatch(r"([\d.]+)(us|ms|s)", s).groups()
    return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[u]


def parse_wrk(_a):
    t = sys.stdin.read()
    lat = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)\s*$", t, re.M))
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    sock = re.search(r"Socket errors: (.*)", t)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)),
            "p50_us": _us(lat["50"]), "p99_us": _us(lat["99"]),
            "non2xx": int(errs.group(1)) if errs else 0,
            "socket_errors": sock.group(1) if sock else ""}


def parse_h2load(_a):
    t = sys.stdin.read()
    st = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, "
                   r"(\d+) failed, (\d+) errored", t)
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", t)
    if not st or not rps:
        sys.exit("h2load printed no result:\n" + t)
    return {"rps": float(rps.group(1)), "failed": int(st.group(3)), "errored": int(st.group(4))}


def parse_precision(a):
    r = json.loads(sys.stdin.read())
    ratios = sorted(x / a.allowed for x in r["per_client"])
    return {"admitted_ratio": statistics.mean(ratios), "lowest": ratios[0],
            "highest": ratios[-1], "refused": r["non2xx"], "answers": r["answers"]}


def srv_cpu(a):
    """A result (JSON on standard input) with the servers' CPU a request added."""
    r = json.loads(sys.stdin.read())
    if a.ms and r.get("rps"):
        r["srv_us_per_req"] = a.ms * 1000 / (r["rps"] * a.seconds)
    return r


def shaping(a):
    return {"achieved_ratio": a.bytes * 8 / a.seconds / a.rate if a.seconds > 0 else 0.0}


# (workload, metric, label, higher is better)
ROWS = [
    ("iperf3", "gbit", "iperf3 throughput (Gbit/s)", True),
    ("iperf3", "srv_cpu_per_gbit", "iperf3 server CPU % per Gbit/s", False),
    ("iperf3", "cpu_per_gbit", "machine CPU % per Gbit/s (both ends, softirq included)", False),
    ("wrk", "rps", "wrk HTTP/1.1 keep-alive, requests/s", True),
    ("wrk", "p50_us", "wrk p50 latency (us)", False),
    ("wrk", "p99_us", "wrk p99 latency (us)", False),
    ("wrk", "srv_us_per_req", "wrk: the servers' CPU us a request (nginx, softirq in its "
     "context included)", False),
    ("h2load", "rps", "h2load h2c, requests/s", True),
    ("h2load", "srv_us_per_req", "h2load: the servers' CPU us a request", False),
    ("crowd", "rps", "{n} clients (ps_load), requests/s", True),
    ("crowd", "srv_us_per_req", "{n} clients: the servers' CPU us a request", False),
    ("crowd", "p50_us", "{n} clients, p50 latency (us)", False),
    ("crowd", "p99_us", "{n} clients, p99 latency (us)", False),
]


def fmt_abs(v):
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def report(a):
    res = [json.loads(line) for line in open(a.results)]
    by = {}
    for x in res:
        by.setdefault((x["workload"], x["setup"]), {})[x["round"]] = x["r"]
    rounds = sorted({x["round"] for x in res})

    def ratios(wl, setup, metric, base="none"):
        out = []
        for r in rounds:
            b = by.get((wl, base), {}).get(r)
            v = by.get((wl, setup), {}).get(r)
            if b and v and b.get(metric):
                out.append(v[metric] / b[metric])
        return out

    def absolute(wl, setup, metric):
        return [by[(wl, setup)][r][metric] for r in rounds if r in by.get((wl, setup), {})]

    med = statistics.median
    lines = [START, "", "### Against peers: `make bench-peers`, ratios to the same round's baseline", ""]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        rev = subprocess.run(["git", "-C", os.path.dirname(a.benchmarks), "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = "?"
    lines += [f"Produced by `make bench-peers` (tools/bench_peers.sh) on {now} in {a.elapsed} s, "
              f"at {rev}: {len(rounds)} rounds, {a.seconds} s a run after a warm-up, the set-ups' "
              "order rotating from round to round. Two network namespaces on a veth pair with TSO, "
              "GSO and GRO on; nginx (one worker) answers a 240-byte embeddings JSON; the proxy is "
              "a second nginx (one worker) with `limit_req` per client address in front of it. "
              "Each cell: median over the rounds of the per-round ratio to `none`, and the spread "
              "(lowest..highest); the `none` column holds the absolute medians.", ""]
    hdr = "| workload | none (absolute) | " + " | ".join(SETUPS[1:]) + " |"
    lines += [hdr, "|" + "---|" * (len(SETUPS) + 1)]
    for wl, metric, label, _hib in ROWS:
        base = absolute(wl, "none", metric)
        if not base:
            continue
        cells = []
        for s in SETUPS[1:]:
            rs = ratios(wl, s, metric)
            cells.append(f"{med(rs):.3f}x ({min(rs):.2f}..{max(rs):.2f})" if rs else "-")
        lines.append(f"| {label.format(n=a.clients)} | {fmt_abs(med(base))} | " + " | ".join(cells) + " |")
    lines.append("")

    # Precision under the crowd's load.
    lines += ["Precision under the load of the clients above:", ""]
    lines += ["| what | set-up | median | spread |", "|---|---|---|---|"]
    for s in ("penstock", "proxy"):
        v = absolute("limit-precision", s, "admitted_ratio")
        if v:
            lines.append(f"| request limit, 10 clients offered 10x 600/min: answered / allowed | {s} | "
                         f"{med(v):.3f} | {min(v):.3f}..{max(v):.3f} |")
    v = absolute("shaping-precision", "penstock", "achieved_ratio")
    if v:
        lines.append(f"| shaping to 20mbit: achieved / configured | penstock | {med(v):.3f} | "
                     f"{min(v):.3f}..{max(v):.3f} |")
    lines.append("")

    # The goals, each with its verdict.
    def goal(text, ok):
        return f"- {text}: **{'met' if ok else 'NOT met'}**"

    gl = []
    for wl, metric in (("iperf3", "gbit"), ("wrk", "rps"), ("h2load", "rps"), ("crowd", "rps")):
        rs = ratios(wl, "penstock", metric)
        if rs:
            gl.append(goal(f"penstock >= 0.95 of unfiltered, {wl} {metric}: {med(rs):.3f}x", med(rs) >= 0.95))
    for peer in ("iptables", "nftables"):
        for wl, metric, hib in (("iperf3", "gbit", True), ("iperf3", "cpu_per_gbit", False),
                                ("wrk", "rps", True), ("crowd", "rps", True)):
            p, q = ratios(wl, "penstock", metric), ratios(wl, peer, metric)
            if p and q:
                ok = med(p) >= med(q) if hib else med(p) <= med(q)
                # Within the spread of either is a tie, not a loss.
                tie = not ok and (min(p) <= med(q) <= max(p) or min(q) <= med(p) <= max(q))
                gl.append(f"- overhead no worse than {peer}'s, {wl} {metric}: penstock {med(p):.3f}x, "
                          f"{peer} {med(q):.3f}x: **{'met' if ok else ('within the spread' if tie else 'NOT met')}**")
    for wl in ("wrk", "h2load", "crowd"):
        p = absolute(wl, "penstock", "rps")
        q = absolute(wl, "proxy", "rps")
        if p and q:
            r = med([x / y for x, y in zip(p, q)])
            gl.append(goal(f"penstock >= 2x the proxy's requests/s, {wl}: {r:.2f}x", r >= 2))
    for wl in ("wrk", "crowd"):
        rs = ratios(wl, "penstock", "p99_us")
        if rs:
            gl.append(goal(f"p99 added <= 5%, {wl}: {100 * (med(rs) - 1):+.1f}%", med(rs) <= 1.05))
    lines += ["Goals:", ""] + gl + ["", "![bench-peers](docs/bench-peers.png)", "", END]
    section = "\n".join(lines) + "\n"

    text = open(a.benchmarks).read() if os.path.exists(a.benchmarks) else "# penstock benchmarks\n"
    if START in text and END in text:
        pre, rest = text.split(START, 1)
        post = rest.split(END, 1)[1].lstrip("\n")
        text = pre + section + ("\n" + post if post else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(a.benchmarks + ".tmp", "w") as f:
        f.write(text)
    os.replace(a.benchmarks + ".tmp", a.benchmarks)
    print(section)
    chart(a, ratios)


def chart(a, ratios):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench-peers: no matplotlib (python3-matplotlib): no chart", file=sys.stderr)
        return
    groups = [("iperf3", "gbit", "iperf3 Gbit/s"), ("wrk", "rps", "wrk req/s"),
              ("h2load", "rps", "h2load req/s"), ("crowd", "rps", f"{a.clients} clients req/s"),
              ("wrk", "p99_us", "wrk p99 (lower\nis better)")]
    setups = SETUPS[1:]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    w = 0.8 / len(setups)
    for i, s in enumerate(setups):
        xs, ys, lo, hi = [], [], [], []
        for g, (wl, metric, _l) in enumerate(groups):
            rs = ratios(wl, s, metric)
            if not rs:
                continue
            m = statistics.median(rs)
            xs.append(g + (i - (len(setups) - 1) / 2) * w)
            ys.append(m)
            lo.append(m - min(rs))
            hi.append(max(rs) - m)
        ax.bar(xs, ys, w, yerr=[lo, hi], capsize=2, label=s)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(0.95, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g[2] for g in groups])
    ax.set_ylabel("ratio to no filter (median, spread)")
    ax.set_title("penstock beside iptables, nftables and an nginx proxy (make bench-peers)")
    ax.legend(ncol=len(setups), fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(a.chart, dpi=100)
    print(f"bench-peers: wrote {a.chart}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("parse-iperf3")
    s.add_argument("--busy", type=int, required=True, help="machine busy jiffies over the run")
    s.add_argument("--seconds", type=float, required=True)
    sub.add_parser("parse-wrk")
    sub.add_parser("parse-h2load")
    s = sub.add_parser("parse-precision")
    s.add_argument("--allowed", type=float, required=True, help="requests each client may get")
    s = sub.add_parser("srv-cpu")
    s.add_argument("--ms", type=float, default=0, help="the servers' task-clock ms over the run")
    s.add_argument("--seconds", type=float, required=True)
    s = sub.add_parser("shaping")
    s.add_argument("--bytes", type=float, required=True)
    s.add_argument("--seconds", type=float, required=True)
    s.add_argument("--rate", type=float, required=True, help="configured, bits/s")
    s = sub.add_parser("report")
    for o in ("--results", "--benchmarks", "--chart"):
        s.add_argument(o, required=True)
    for o in ("--rounds", "--seconds", "--clients", "--elapsed"):
        s.add_argument(o, type=int, required=True)
    a = p.parse_args()
    if a.cmd == "report":
        report(a)
    else:
        print(json.dumps({"parse-iperf3": parse_iperf3, "parse-wrk": parse_wrk,
                          "parse-h2load": parse_h2load, "parse-precision": parse_precision,
                          "srv-cpu": srv_cpu, "shaping": shaping}[a.cmd](a)))


if __name__ == "__main__":
    main()
