#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Checks what am_receiver.py recorded against Alertmanager's API v2.

    am_check.py LOG

Every request must be POST /api/v2/alerts with Content-Type
application/json and a body that is a non-empty JSON array of
PostableAlerts (api/v2/openapi.yaml: labels required, a label set of
string values with valid label names; annotations a label set; startsAt,
endsAt date-times; generatorURL a URI), here with endsAt one hour after
startsAt, and with the labels and annotations penstock promises
(docs/control-protocol.md, Alerts). alerts_driver's alert N carries
evidence {"seq": N, ...}, is on prefix 198.18.N%250.0/24 when N is a
multiple of 5 and on client 198.18.0.N%250 otherwise, and scores N/8:
each alert is checked against that too.

Prints the seq of every alert received, in order, one line:
"seqs 1 2 3 ...". Exit 1, with the reason on stderr, on the first fault.
"""
import datetime
import json
import re
import sys
import urllib.parse

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def fail(msg):
    sys.stderr.write("am_check: %s\n" % msg)
    sys.exit(1)


def when(s, what):
    if not isinstance(s, str) or not RFC3339.match(s):
        fail("%s %r is not an RFC 3339 date-time" % (what, s))
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def label_set(d, what):
    if not isinstance(d, dict):
        fail("%s is not an object" % what)
    for k, v in d.items():
        if not LABEL_NAME.match(k):
            fail("%s: %r is not a valid label name" % (what, k))
        if not isinstance(v, str):
            fail("%s.%s is not a string" % (what, k))


def check_alert(a, where):
    if not isinstance(a, dict):
        fail("%s: not an object" % where)
    extra = set(a) - {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
    if extra:
        fail("%s: members not in PostableAlert: %s" % (where, sorted(extra)))
    label_set(a.get("labels"), where + ".labels")
    label_set(a.get("annotations"), where + ".annotations")
    lab, ann = a["labels"], a["annotations"]
    for k in ("alertname", "subject", "kind", "detector", "action", "severity"):
        if not lab.get(k):
            fail("%s: no label %s" % (where, k))
    if lab["alertname"] != "penstock_" + lab["detector"]:
        fail("%s: alertname %r for detector %r" % (where, lab["alertname"], lab["detector"]))
    if lab["severity"] != "warning":
        fail("%s: severity %r" % (where, lab["severity"]))
    for k in ("summary", "score", "evidence"):
        if k not in ann:
            fail("%s: no annotation %s" % (where, k))
    start, end = when(a.get("startsAt"), where + ".startsAt"), when(a.get("endsAt"), where + ".endsAt")
    if end - start != datetime.timedelta(hours=1):
        fail("%s: endsAt - startsAt = %s, expected 1:00:00" % (where, end - start))
    url = urllib.parse.urlparse(a.get("generatorURL", ""))
    if url.scheme != "penstock" or not url.netloc:
        fail("%s: generatorURL %r" % (where, a.get("generatorURL")))
    q = urllib.parse.parse_qs(url.query)
    if q.get("subject") != [lab["subject"]] or q.get("detector") != [lab["detector"]]:
        fail("%s: generatorURL %r does not name subject and detector" % (where, a["generatorURL"]))
    ev = json.loads(ann["evidence"])
    n = ev.get("seq") if isinstance(ev, dict) else None
    if not isinstance(n, int):
        fail("%s: evidence %r has no seq" % (where, ann["evidence"]))
    if n % 5:
        subject, kind = "198.18.0.%d" % (n % 250), "client"
    else:
        subject, kind = "198.18.%d.0/24" % (n % 250), "prefix"
    if (lab["subject"], lab["kind"]) != (subject, kind):
        fail("%s: seq %d on %s %s, expected %s %s" % (where, n, lab["kind"], lab["subject"], kind, subject))
    if float(ann["score"]) != n / 8:
        fail("%s: seq %d score %r, expected %g" % (where, n, ann["score"], n / 8))
    return n


def main():
    seqs = []
    with open(sys.argv[1], encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            r = json.loads(line)
            where = "request %d" % i
            if r["method"] != "POST" or r["path"] != "/api/v2/alerts":
                fail("%s: %s %s" % (where, r["method"], r["path"]))
            if r["content_type"].split(";")[0].strip() != "application/json":
                fail("%s: Content-Type %r" % (where, r["content_type"]))
            try:
                body = json.loads(r["body"])
            except ValueError as e:
                fail("%s: body is not JSON: %s" % (where, e))
            if not isinstance(body, list) or not body:
                fail("%s: body is not a non-empty array" % where)
            for j, a in enumerate(body):
                seqs.append(check_alert(a, "%s[%d]" % (where, j)))
    print("seqs " + " ".join(map(str, seqs)))


if __name__ == "__main__":
    main()
