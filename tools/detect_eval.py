#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""How well `penstock replay` detects the extractors of a synthetic scenario.

  detect_eval.py LABELS.json [REPLAY.json | -]   the table (stdin without REPLAY)
  detect_eval.py --json LABELS.json REPLAY.json   the same for machines
  detect_eval.py --config-out CFG.yaml LABELS.json
                                                  the scenario's replay config

LABELS is what tools/scenario.py wrote (docs/scenarios.md); REPLAY is the
output of `penstock replay --config CFG --json CAPTURE`, whose "alerts"
array holds objects {"time" (RFC 3339, UTC, on the capture's clock),
"subject" (an address or a prefix), "kind" ("client" or "prefix"),
"detector", "score", "action", "evidence"}.

An alert covers a client when its subject is the client's address or a
prefix that holds it. Per extractor:
  detected           an alert covers it at or after its onset
  time to detection  the first such alert's time - the onset, the onset
                     being the labels' start + the first active interval's
                     start (seconds on the capture's clock)
  detector           the first such alert's detector (the JSON lists all)
A hydra is judged as its group: detected by a prefix alert whose prefix
holds the group's prefix or every member; its onset is its earliest
member's; members alerted one by one are counted apart and do not make
the group detected.

False positives: benign and integration clients covered by any alert (a
prefix alert counts against every client under it, idle ones included).
Allow-listed clients (eval_clients) that are covered are reported apart.

Targets (all must hold for exit status 0):
  every extractor detected, within: high-rate 60 s, outflow 2 min, hydra 10 min,
  low-slow 6 h (surge and ratio: detected, no time target);
  no benign or integration client alerted;
  no allow-listed client alerted (they are exempt: never alerted);
  every alert well formed (the fields above, a valid UTC time within the
  capture, the kind matching the subject's form).
Exit 0 when they all hold, 1 when one does not (0 with --no-fail), 2 on
unreadable input.

Python 3 standard library only.
"""

import argparse
import datetime
import ipaddress
import json
import math
import re
import sys

# Seconds from the onset, per pattern; None: detected at all is the target.
TARGETS = {"high-rate": 60.0, "hydra": 600.0, "low-slow": 6 * 3600.0, "outflow": 120.0,
           "surge": None, "ratio": None}
DETECTORS = ("high_rate", "prefix", "low_and_slow", "surge", "ratio", "threshold", "outflow",
             "outflow_tokens",
             "shared_key", "key_hydra")
ACTIONS = ("alert", "shape", "delay", "block")
KINDS = ("client", "prefix")
# Alerts may be stamped up to this long after the last packet (which the
# labels give to the second, rounded down).
END_SLACK_S = 1.0

RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                     r"([Zz]|[+-]\d{2}:\d{2})$")


class InputError(Exception):
    pass


def parse_time(s):
    """RFC 3339 -> (Unix seconds, why not UTC or None); ValueError if invalid."""
    if not isinstance(s, str):
        raise ValueError("not a string")
    m = RFC3339.match(s)
    if not m:
        raise ValueError("not RFC 3339")
    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    frac = float(m.group(7)) if m.group(7) else 0.0
    off = m.group(8)
    # datetime checks the ranges (month 13, February 30, hour 24...);
    # second 60 (a leap second) has no datetime.
    t = datetime.datetime(y, mo, d, h, mi, sec, tzinfo=datetime.timezone.utc).timestamp()
    t += frac
    note = None
    if off not in ("Z", "z"):
        sign = 1 if off[0] == "+" else -1
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            raise ValueError("bad offset")
        t -= sign * (oh * 3600 + om * 60)
        if oh or om:
            note = "offset %s, not UTC" % off
    return t, note


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def fmt_dur(s):
    if s is None:
        return "-"
    if abs(s) < 120:
        return "%.1f s" % s
    if abs(s) < 7200:
        return "%.1f min" % (s / 60)
    return "%.2f h" % (s / 3600)


def fmt_target(s):
    if s is None:
        return "detected"
    if s >= 3600 and s % 3600 == 0:
        return "<= %d h" % (s // 3600)
    if s >= 120 and s % 60 == 0:
        return "<= %d min" % (s // 60)
    return "<= %g s" % s


def load_json(path, what):
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path) as f:
                text = f.read()
    except OSError as e:
        raise InputError("%s: %s" % (path, e.strerror or e))
    try:
        return json.loads(text)
    except ValueError as e:
        name = "stdin" if path == "-" else path
        if not text.strip():
            raise InputError("%s: empty, expected %s" % (name, what))
        raise InputError("%s: not JSON (%s), expected %s" % (name, e, what))


class Labels:
    def __init__(self, doc, path):
        try:
            self.scenario = doc["scenario"]
            self.seed = doc.get("seed")
            self.hours = doc.get("hours")
            self.start, _ = parse_time(doc["start"])
            self.last = parse_time(doc["last_packet"])[0] if doc.get("last_packet") \
                else self.start + 3600.0 * float(doc["hours"])
            self.port = int(doc["server"]["port"])
            self.eval_clients = [str(a) for a in doc.get("eval_clients", [])]
            self.groups = doc.get("groups", [])
            self.clients = doc["clients"]
            for c in self.clients:
                c["_addr"] = ipaddress.ip_address(c["client"])
                c["_onset"] = self.start + c["active"][0][0] if c["active"] else None
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise InputError("%s: not a labels.json of tools/scenario.py (%s: %s)"
                             % (path, type(e).__name__, e))


class Alert:
    pass


def parse_alerts(doc, labels):
    """The replay's alerts: (usable alerts, [(index, why)] of malformed ones)."""
    alerts, bad = [], []
    raw = doc.get("alerts")
    if raw is None:
        return alerts, bad
    if not isinstance(raw, list):
        return alerts, [(None, '"alerts" is not an array')]
    for i, a in enumerate(raw):
        why = []
        if not isinstance(a, dict):
            bad.append((i, "not an object"))
            continue
        for k in ("time", "subject", "kind", "detector", "score", "action", "evidence"):
            if k not in a:
                why.append("no %s" % k)
        al = Alert()
        al.index = i
        al.raw = a
        al.t = None
        al.net = None
        if "time" in a:
            try:
                al.t, note = parse_time(a["time"])
                if note:
                    why.append("time %r: %s" % (a["time"], note))
                if not labels.start <= al.t <= labels.last + END_SLACK_S:
                    why.append("time %s outside the capture (%s .. %s)"
                               % (a["time"], iso(labels.start), iso(labels.last)))
            except ValueError as e:
                why.append("time %r: %s" % (a["time"], e))
        kind = a.get("kind")
        if "kind" in a and kind not in KINDS:
            why.append("kind %r, expected one of %s" % (kind, ", ".join(KINDS)))
        subj = a.get("subject")
        if "subject" in a:
            if not isinstance(subj, str):
                why.append("subject %r is not a string" % (subj,))
            elif "/" in subj:
                try:
                    al.net = ipaddress.ip_network(subj, strict=True)
                except ValueError as e:
                    why.append("subject %r: %s" % (subj, e))
                if kind == "client":
                    why.append("subject %r is a prefix, kind client" % subj)
            else:
                try:
                    al.net = ipaddress.ip_network(ipaddress.ip_address(subj))
                except ValueError as e:
                    why.append("subject %r: %s" % (subj, e))
                if kind == "prefix":
                    why.append("subject %r is an address, kind prefix" % subj)
        det = a.get("detector")
        if "detector" in a and det not in DETECTORS:
            why.append("detector %r, expected one of %s" % (det, ", ".join(DETECTORS)))
        sc = a.get("score")
        if "score" in a and (isinstance(sc, bool) or not isinstance(sc, (int, float))
                             or not math.isfinite(sc)):
            why.append("score %r is not a number" % (sc,))
        if "action" in a and a.get("action") not in ACTIONS:
            why.append("action %r, expected one of %s" % (a.get("action"), ", ".join(ACTIONS)))
        if "evidence" in a and not isinstance(a["evidence"], dict):
            why.append("evidence is not an object")
        al.subject = subj if isinstance(subj, str) else repr(subj)
        al.kind = kind
        al.detector = det if isinstance(det, str) else repr(det)
        al.action = a.get("action")
        al.score = sc
        if why:
            bad.append((i, "; ".join(why)))
        # What can still be judged: a time and a subject.
        if al.t is not None and al.net is not None:
            alerts.append(al)
    alerts.sort(key=lambda x: (x.t, x.index))
    return alerts, bad


class Index:
    """The alerts by subject: those that cover an address, fast."""

    def __init__(self, alerts):
        self.hosts = {}
        self.nets = {}
        for a in alerts:
            if a.net.prefixlen == a.net.max_prefixlen:
                self.hosts.setdefault(a.net.network_address, []).append(a)
            else:
                self.nets.setdefault(a.net, []).append(a)

    def covering(self, addr):
        out = list(self.hosts.get(addr, ()))
        for net, al in self.nets.items():
            if net.version == addr.version and addr in net:
                out += al
        out.sort(key=lambda x: (x.t, x.index))
        return out


def brief(al):
    return {"time": al.raw.get("time"), "subject": al.subject, "kind": al.kind,
            "detector": al.detector, "action": al.action, "score": al.score}


def judge(row, hits, onset):
    """Fill row from the alerts that cover the subject (time order)."""
    after = [a for a in hits if onset is None or a.t >= onset]
    row["alerts_before_onset"] = len(hits) - len(after)
    row["alerts"] = len(after)
    row["detected"] = bool(after)
    row["onset"] = iso(onset) if onset is not None else None
    if after:
        first = after[0]
        row["first_alert"] = brief(first)
        row["time_to_detection_s"] = round(first.t - onset, 3) if onset is not None else None
        row["detector"] = first.detector
        dets = []
        for a in after:
            if a.detector not in dets:
                dets.append(a.detector)
        row["detectors"] = dets
    else:
        row["first_alert"] = None
        row["time_to_detection_s"] = None
        row["detector"] = None
        row["detectors"] = []
    tgt = TARGETS.get(row["pattern"])
    row["target_s"] = tgt
    ttd = row["time_to_detection_s"]
    row["met"] = row["detected"] and (tgt is None or (ttd is not None and ttd <= tgt))
    return after


def evaluate(labels, doc):
    alerts, malformed = parse_alerts(doc, labels)
    idx = Index(alerts)
    rows = []
    for c in labels.clients:
        if c["label"] != "extractor" or c["pattern"] == "hydra":
            continue
        row = {"scenario": labels.scenario, "pattern": c["pattern"], "subject": c["client"],
               "kind": "client", "group": None, "members": None}
        after = judge(row, idx.covering(c["_addr"]), c["_onset"])
        if c["pattern"] == "surge" and "surge_at" in (c.get("params") or {}):
            at = labels.start + float(c["params"]["surge_at"])
            row["surge_at"] = iso(at)
            row["time_since_surge_s"] = round(after[0].t - at, 3) if after else None
        rows.append(row)

    group_names = [g["group"] for g in labels.groups]
    for c in labels.clients:
        if c["group"] and c["group"] not in group_names:
            group_names.append(c["group"])
    for name in group_names:
        members = [c for c in labels.clients if c["group"] == name]
        prefix = next((g["prefix"] for g in labels.groups if g["group"] == name),
                      members[0]["prefix"])
        gnet = ipaddress.ip_network(prefix)
        addrs = [m["_addr"] for m in members]
        onsets = [m["_onset"] for m in members if m["_onset"] is not None]
        onset = min(onsets) if onsets else None
        row = {"scenario": labels.scenario, "pattern": "hydra", "subject": prefix,
               "kind": "group", "group": name, "members": len(members)}

        def whole(a):
            return a.net.version == gnet.version and (
                gnet.subnet_of(a.net) or (len(addrs) > 1 and all(x in a.net for x in addrs)))
        judge(row, [a for a in alerts if whole(a)], onset)
        # Members alerted one by one: by a client alert, or by a prefix
        # alert that holds some of them but not the group.
        single = {}
        partial = {}
        for m in members:
            for a in idx.covering(m["_addr"]):
                if not whole(a):
                    d = single if a.kind == "client" else partial
                    if m["client"] not in d:
                        d[m["client"]] = a
        row["members_alerted_individually"] = len(single)
        row["members_under_partial_prefixes"] = len(partial)
        firsts = [a.t for a in list(single.values()) + list(partial.values())]
        row["first_member_alert_s"] = round(min(firsts) - onset, 3) \
            if firsts and onset is not None else None
        rows.append(row)

    fps, evals = [], []
    eval_set = set(labels.eval_clients)
    n_benign = 0
    attributed = set()
    for c in labels.clients:
        hits = idx.covering(c["_addr"])
        for a in hits:
            attributed.add(a.index)
        is_eval = c["label"] == "eval" or c["client"] in eval_set
        if c["label"] in ("benign", "integration") and not is_eval:
            n_benign += 1
            if hits:
                fps.append({"client": c["client"], "label": c["label"], "alerts": len(hits),
                            "first": brief(hits[0]),
                            "detectors": sorted({a.detector for a in hits})})
        elif is_eval and hits:
            evals.append({"client": c["client"], "label": c["label"], "alerts": len(hits),
                          "first": brief(hits[0]),
                          "detectors": sorted({a.detector for a in hits})})

    by_det = {}
    for a in alerts:
        by_det[a.detector] = by_det.get(a.detector, 0) + 1
    n_raw = len(doc["alerts"]) if isinstance(doc.get("alerts"), list) else 0
    checks = {
        "replay gives alerts": "alerts" in doc and isinstance(doc["alerts"], list),
        "every extractor detected": all(r["detected"] for r in rows),
        "time to detection within target": all(r["met"] for r in rows if r["detected"]),
        "no benign or integration client alerted": not fps,
        "no allow-listed client alerted": not evals,
        "alerts well formed": not malformed,
    }
    return {
        "scenario": labels.scenario, "seed": labels.seed, "hours": labels.hours,
        "start": iso(labels.start), "last_packet": iso(labels.last),
        "alerts_present": "alerts" in doc,
        "alerts": n_raw,
        "alerts_by_detector": dict(sorted(by_det.items())),
        "alerts_unattributed": sum(1 for a in alerts if a.index not in attributed),
        "malformed_alerts": [{"index": i, "why": w} for i, w in malformed],
        "extractors": rows,
        "benign_clients": n_benign,
        "false_positives": fps,
        "eval_clients": labels.eval_clients,
        "eval_alerted": evals,
        "checks": checks,
        "all_met": all(checks.values()),
    }


def table(res, out):
    w = out.write
    w("| scenario | pattern | subject | detected | time to detection | detector | target | met |\n")
    w("|---|---|---|---|---:|---|---|---|\n")
    for r in res["extractors"]:
        pat = r["pattern"]
        if r["group"]:
            pat = "hydra (%s, %d members)" % (r["group"], r["members"])
        ttd = fmt_dur(r["time_to_detection_s"])
        if r.get("time_since_surge_s") is not None:
            ttd += " (%s after the surge)" % fmt_dur(r["time_since_surge_s"])
        det = ", ".join(r["detectors"]) if r["detectors"] else "-"
        tgt = fmt_target(r["target_s"])
        w("| %s | %s | %s | %s | %s | %s | %s | %s |\n" % (
            r["scenario"], pat, r["subject"], "yes" if r["detected"] else "**no**", ttd, det,
            tgt, "yes" if r["met"] else "**no**"))
    if not res["extractors"]:
        w("| %s | (no extractor) | - | - | - | - | - | - |\n" % res["scenario"])
    w("\n")
    if not res["alerts_present"]:
        w("- **the replay's JSON has no \"alerts\"**: nothing was judged\n")
    dets = ", ".join("%s %d" % kv for kv in res["alerts_by_detector"].items())
    w("- alerts: %d%s; %d cover no labelled client\n" % (
        res["alerts"], " (%s)" % dets if dets else "", res["alerts_unattributed"]))
    for r in res["extractors"]:
        if r["group"]:
            w("- %s: %d of %d members alerted one by one, %d under prefixes short of the"
              " group%s\n" % (r["group"], r["members_alerted_individually"], r["members"],
                              r["members_under_partial_prefixes"],
                              "" if r["first_member_alert_s"] is None else
                              ", the first %s after the onset"
                              % fmt_dur(r["first_member_alert_s"])))
    fps = res["false_positives"]
    if fps:
        w("- **false positives: %d of %d benign and integration clients alerted**: %s\n" % (
            len(fps), res["benign_clients"], "; ".join(
                "%s (%s, %s by %s at %s)" % (f["client"], f["label"], f["first"]["subject"],
                                            f["first"]["detector"], f["first"]["time"])
                for f in fps[:8]) + ("; ..." if len(fps) > 8 else "")))
    else:
        w("- false positives: none of %d benign and integration clients alerted\n"
          % res["benign_clients"])
    ev = res["eval_alerted"]
    if ev:
        w("- **allow-listed clients alerted**: %s\n" % "; ".join(
            "%s (%s by %s at %s)" % (e["client"], e["first"]["subject"], e["first"]["detector"],
                                    e["first"]["time"]) for e in ev))
    else:
        w("- allow-listed clients (%s): not alerted\n" % (", ".join(res["eval_clients"])
                                                           or "none"))
    bad = res["malformed_alerts"]
    if bad:
        w("- **%d malformed alerts**: %s\n" % (len(bad), "; ".join(
            "#%s: %s" % (b["index"], b["why"]) for b in bad[:5]) + ("; ..." if len(bad) > 5
                                                                      else "")))
    failed = [k for k, v in res["checks"].items() if not v]
    w("- targets: %s\n" % ("all met" if not failed else "NOT met: " + ", ".join(failed)))


def write_config(labels, path):
    lines = ["# penstock replay config for the %s scenario (tools/detect_eval.py --config-out)"
             % labels.scenario,
             "endpoints:",
             "  - name: openai",
             "    port: %d" % labels.port]
    if labels.eval_clients:
        nets = [str(ipaddress.ip_network(ipaddress.ip_address(a))) for a in labels.eval_clients]
        lines += ["limits:",
                  "  classes:",
                  "    - name: evaluation",
                  "      clients: [%s]" % ", ".join(nets),
                  "      exempt: true"]
    text = "\n".join(lines) + "\n"
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise InputError("%s: %s" % (path, e.strerror or e))


def main():
    ap = argparse.ArgumentParser(
        description="Judge `penstock replay --json`'s alerts against a scenario's labels.",
        epilog="exit status: 0 every target met, 1 one not met, 2 bad input")
    ap.add_argument("labels", metavar="LABELS", help="labels.json of tools/scenario.py")
    ap.add_argument("replay", metavar="REPLAY", nargs="?",
                    help="penstock replay --json output ('-' or none: stdin)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--no-fail", action="store_true", help="exit 0 even when a target is missed")
    ap.add_argument("--config-out", metavar="FILE",
                    help="write the scenario's replay config (endpoint port, the eval clients"
                         " exempt); without REPLAY, only that")
    args = ap.parse_args()
    try:
        labels = Labels(load_json(args.labels, "labels"), args.labels)
        if args.config_out:
            write_config(labels, args.config_out)
            if args.replay is None:
                return 0
        doc = load_json(args.replay or "-", "penstock replay --json output")
        if not isinstance(doc, dict) or "clients" not in doc or "scenario" in doc:
            raise InputError("%s: not the output of penstock replay --json"
                             % (args.replay or "stdin"))
        res = evaluate(labels, doc)
    except InputError as e:
        sys.stderr.write("detect_eval.py: %s\n" % e)
        return 2
    if args.json:
        json.dump(res, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        table(res, sys.stdout)
    if not res["alerts_present"]:
        sys.stderr.write("detect_eval.py: the replay's JSON has no \"alerts\"\n")
    return 0 if res["all_met"] or args.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
