#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Checks the tshark oracle (tshark_counts.py) against every reference capture
# whose expected.json needs nothing beyond plain HTTP/1.x ("needs": []), or
# PROXY headers ("needs": ["proxy-protocol"]: run with --proxy-protocol and
# every peer trusted, as the captures' headers are to be believed).
# The captures are read in place from $PS_PCAPS; nothing is copied.
# Prints PASS/FAIL per capture; exits 1 if any failed, 77 if tshark or the
# captures are missing.

set -u
here=$(cd "$(dirname "$0")" && pwd)
PS_PCAPS=${PS_PCAPS:-$here/../../../shared/pcaps}

command -v tshark >/dev/null 2>&1 || { echo "SKIP: tshark not found"; exit 77; }
[ -d "$PS_PCAPS" ] || { echo "SKIP: no captures at $PS_PCAPS"; exit 77; }

exec /usr/bin/python3 - "$here/tshark_counts.py" "$PS_PCAPS" <<'EOF'
import json, os, subprocess, sys

oracle, root = sys.argv[1], sys.argv[2]
fields = ["connections", "requests", "rx_packets", "tx_packets", "rx_bytes",
          "tx_bytes", "rx_payload", "tx_payload"]
failed = 0
checked = 0
for dirpath, dirnames, filenames in sorted(os.walk(root)):
    dirnames.sort()
    if "expected.json" not in filenames:
        continue
    name = os.path.relpath(dirpath, root)
    with open(os.path.join(dirpath, "expected.json")) as fh:
        exp = json.load(fh)
    if set(exp.get("needs", [])) - {"proxy-protocol"}:
        continue
    checked += 1
    cmd = [sys.executable, oracle]
    if "proxy-protocol" in exp["needs"]:
        cmd += ["--proxy-protocol", "--trusted", "0.0.0.0/0", "--trusted", "::/0"]
    for p in exp["endpoint_ports"]:
        cmd += ["--port", str(p)]
    cmd.append(os.path.join(dirpath, exp["pcap"]))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        print("FAIL %s: oracle exit %d: %s" % (name, r.returncode,
              r.stderr.decode(errors="replace").strip().splitlines()[-1:]))
        failed += 1
        continue
    got = {c["client"]: c for c in json.loads(r.stdout)["clients"]}
    want = {c["client"]: c for c in exp["clients"]}
    diffs = []
    for cl in sorted(set(got) | set(want)):
        if cl not in got:
            diffs.append("client %s missing" % cl)
            continue
        if cl not in want:
            diffs.append("client %s unexpected" % cl)
            continue
        for f in fields:
            if got[cl][f] != want[cl][f]:
                diffs.append("%s %s oracle=%s expected=%s"
                             % (cl, f, got[cl][f], want[cl][f]))
    if diffs:
        failed += 1
        print("FAIL %s: %s" % (name, "; ".join(diffs)))
    else:
        print("PASS %s" % name)
print("%d checked, %d failed" % (checked, failed))
sys.exit(1 if failed else (0 if checked else 77))
EOF
