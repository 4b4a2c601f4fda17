#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Checks of penstockd's /metrics for tests/e2e/test_metrics.

  metrics_check.py query PROM EXPR
      one instant query through Prometheus's HTTP API (PROM is its base
      URL); prints the result vector as JSON: [{"metric":{..},"value":V}]
  metrics_check.py wait PROM EXPR VALUE SECONDS
      query until the first sample's value equals VALUE (a number), or
      the time is up; prints the last value seen; exit 1 on time out
  metrics_check.py parse FILE TOP
      FILE is the raw text of a scrape. It is read by prometheus_client's
      own parser (python3-prometheus-client); prints a FAIL line per
      problem: a family without HELP or TYPE (checked on the raw lines
      too), a sample of no declared family, a histogram whose buckets are
      not cumulative, lack +Inf, or disagree with _count, a top list of
      more than TOP subjects
  metrics_check.py dashboard FILE METRICS PROM
      every PromQL expression of the Grafana dashboard FILE: each metric
      name in it must be one the scrape METRICS has, and Prometheus must
      accept the expression (its variables replaced by their values)
"""
import json
import re
import sys
import time
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def query(prom, expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.load(r)
    if doc.get("status") != "success":
        raise RuntimeError("query %r: %s" % (expr, doc))
    res = doc["data"]["result"]
    if doc["data"]["resultType"] == "scalar":
        return [{"metric": {}, "value": float(res[1])}]
    return [{"metric": s["metric"], "value": float(s["value"][1])} for s in res]


def cmd_wait(prom, expr, want, secs):
    want = float(want)
    deadline = time.monotonic() + float(secs)
    last = None
    while True:
        try:
            res = query(prom, expr)
            last = res[0]["value"] if res else None
        except OSError:
            last = None
        if last == want:
            print(last)
            return 0
        if time.monotonic() > deadline:
            print(last)
            return 1
        time.sleep(0.2)


def cmd_parse(path, top):
    text = open(path).read()
    bad = []
    helps, types = set(), {}
    for line in text.splitlines():
        m = re.match(r"# (HELP|TYPE) (\S+) ?(.*)$", line)
        if m and m.group(1) == "HELP":
            if not m.group(3):
                bad.append("empty HELP for %s" % m.group(2))
            helps.add(m.group(2))
        elif m:
            types[m.group(2)] = m.group(3)
    for name in types:
        if name not in helps:
            bad.append("TYPE without HELP: %s" % name)
    for name in helps:
        if name not in types:
            bad.append("HELP without TYPE: %s" % name)
    nfam = nsamples = 0
    tops = {}
    for fam in text_string_to_metric_families(text):
        nfam += 1
        if not fam.documentation:
            bad.append("family %s has no HELP" % fam.name)
        if fam.type == "unknown":
            bad.append("family %s has no TYPE" % fam.name)
        for s in fam.samples:
            nsamples += 1
            if not s.name.startswith(fam.name):
                bad.append("sample %s outside its family %s" % (s.name, fam.name))
        if fam.name.startswith("penstock_top_"):
            tops[fam.name] = len(fam.samples)
            if len(fam.samples) > top:
                bad.append("%s has %d subjects, more than %d" % (fam.name, len(fam.samples), top))
        if fam.type == "histogram":
            buckets = [(s.labels["le"], s.value) for s in fam.samples
                       if s.name.endswith("_bucket")]
            count = [s.value for s in fam.samples if s.name.endswith("_count")]
            total = [s.value for s in fam.samples if s.name.endswith("_sum")]
            les = [float(le) for le, _ in buckets]
            vals = [v for _, v in buckets]
            if not buckets or buckets[-1][0] != "+Inf":
                bad.append("%s: no +Inf bucket" % fam.name)
            if les != sorted(les) or len(set(les)) != len(les):
                bad.append("%s: bucket bounds not ascending" % fam.name)
            if vals != sorted(vals):
                bad.append("%s: buckets not cumulative: %s" % (fam.name, vals))
            if len(count) != 1 or len(total) != 1 or (buckets and buckets[-1][1] != count[0]):
                bad.append("%s: _count %s, _sum %s, +Inf %s" %
                           (fam.name, count, total, buckets[-1][1] if buckets else None))
    for b in bad:
        print("BAD " + b)
    print(json.dumps({"families": nfam, "samples": nsamples, "tops": tops}))
    return 1 if bad else 0


def exported_names(path):
    names = set()
    for fam in text_string_to_metric_families(open(path).read()):
        for s in fam.samples:
            names.add(s.name)
    return names


def dashboard_exprs(doc):
    out = []

    def walk(o):
        if isinstance(o, dict):
            if isinstance(o.get("expr"), str):
                out.append(o["expr"])
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(doc)
    return out


# PromQL's own words: functions, aggregations, keywords, and the dashboard's label names.
PROMQL_WORDS = {
    "sum", "rate", "irate", "increase", "topk", "bottomk", "by", "without", "histogram_quantile",
    "max", "min", "avg", "count", "label_replace", "le", "on", "ignoring", "group_left",
    "group_right", "offset", "bool", "and", "or", "unless", "clamp_min", "clamp_max", "vector",
    "scalar", "sort_desc", "time", "abs", "delta", "deriv", "max_over_time", "avg_over_time",
}


def cmd_dashboard(path, metrics, prom):
    doc = json.load(open(path))
    names = exported_names(metrics)
    exprs = dashboard_exprs(doc)
    bad = []
    used = set()
    if not exprs:
        bad.append("no PromQL expression in the dashboard")
    for e in exprs:
        # Label matchers and strings are not metric names.
        bare = re.sub(r'\{[^}]*\}', "", re.sub(r'"[^"]*"', '""', e))
        bare = re.sub(r"\[[^\]]*\]", "", bare)
        bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)
        bare = re.sub(r"\$\w+", "", bare)
        for word in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare):
            if word in PROMQL_WORDS or word == "$__rate_interval":
                continue
            if word.startswith("__"):
                continue
            used.add(word)
            if word not in names:
                bad.append("%r uses %s, which penstockd does not export" % (e, word))
        q = e.replace("$__rate_interval", "1m").replace("$top", "5")
        try:
            query(prom, q)
        except Exception as ex:   # noqa: BLE001 - report what Prometheus said
            bad.append("Prometheus refuses %r: %s" % (q, ex))
    for b in bad:
        print("BAD " + b)
    print(json.dumps({"expressions": len(exprs), "metrics": sorted(used)}))
    return 1 if bad else 0


def main():
    a = sys.argv[1:]
    if a[:1] == ["query"] and len(a) == 3:
        print(json.dumps(query(a[1], a[2])))
        return 0
    if a[:1] == ["wait"] and len(a) == 5:
        return cmd_wait(*a[1:])
    if a[:1] == ["parse"] and len(a) == 3:
        return cmd_parse(a[1], int(a[2]))
    if a[:1] == ["dashboard"] and len(a) == 4:
        return cmd_dashboard(*a[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
