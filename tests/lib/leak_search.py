#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Look for secrets' bytes where penstock keeps anything: the BPF maps of its
programs, files, a process's memory and a core file. For
tests/e2e/test_apikey: no API key a client sent may be found anywhere.

Usage: leak_search.py NEEDLES [--netns NS] [--pin-dir DIR] [--pid PID]
                      [--core FILE] [--files PATH]...

NEEDLES is a JSON file {name: secret, ...}; every secret is ASCII and made
of the characters [A-Za-z0-9_-] (a key as clients send them, or a canary
planted to show that the search finds what is there). A secret is found
where any 8 consecutive bytes of it are (the whole secret, or a part of
it, at any offset); one of 6 or 7 bytes is looked for whole. In the maps
also the last len % 8 bytes of each secret when they are 7 (an unfinished
word of a hash over it, as a SipHash state keeps it).

  --netns NS     the maps of the programs named ps_* attached (tc, XDP) to
                 the interfaces of network namespace NS, and ...
  --pin-dir DIR  ... of the maps pinned under DIR: each dumped with
                 `bpftool -j map dump id N`, keys and values, every CPU's
                 value of a per-CPU map
  --pid PID      every readable region of /proc/PID/maps, read through
                 /proc/PID/mem
  --core FILE    a core file (gcore)
  --files PATH   files, and the files under directories, whole

Prints one JSON object: "searched" (what was read: maps by name with their
entries and bytes, maps that could not be dumped, regions and bytes of
memory, files), and "found": [{"needle", "where", "offset", "part"}], at
most 20 per needle and place. Exit 0, or 2 on bad usage.

Only the Python standard library is used.
"""

import argparse
import json
import os
import re
import subprocess
import sys

RUN = re.compile(rb"[A-Za-z0-9_-]{6,}")
CHUNK = 16 << 20


class Needles:
    def __init__(self, needles):
        self.windows = {}	# 8-byte window -> (name, offset)
        self.whole = {}		# a needle of 6..7 bytes -> name
        self.tails = {}		# the 7 bytes of an unfinished last word -> name
        self.needles = {}
        for name, s in needles.items():
            b = s.encode()
            self.needles[name] = b
            if RUN.fullmatch(b) is None and len(b) >= 6:
                raise SystemExit("needle %s: not made of [A-Za-z0-9_-]" % name)
            if len(b) >= 8:
                for i in range(len(b) - 7):
                    self.windows.setdefault(b[i:i + 8], (name, i))
                if len(b) % 8 == 7:
                    self.tails[b[-7:]] = name
            elif len(b) >= 6:
                self.whole[b] = name

    def search(self, data, where, found, tails=False, base=0):
        """Record in found every needle in data (bytes)."""
        for m in RUN.finditer(data):
            run = m.group()
            hits = set()
            i = 0
            while i < len(run) - 7:
                w = self.windows.get(run[i:i + 8])
                if w is None:
                    i += 1
                    continue
                # As much of the needle as lies here, from this window on.
                name, j = w
                n = 8
                needle = self.needles[name]
                while i + n < len(run) and j + n < len(needle) and run[i + n] == needle[j + n]:
                    n += 1
                hits.add(name)
                _add(found, name, where, base + m.start() + i, "bytes %d..%d of %d: %s"
                     % (j, j + n, len(needle), run[i:i + n].decode()))
                i += n - 7
            for small, kind in ((self.whole, "whole"), (self.tails if tails else {}, "last word")):
                for s, name in small.items():
                    at = run.find(s)
                    if at >= 0 and name not in hits:
                        hits.add(name)
                        _add(found, name, where, base + m.start() + at,
                             "%s: %s" % (kind, s.decode()))


def _add(found, name, where, offset, part):
    if sum(1 for f in found if f["needle"] == name and f["where"] == where) < 20:
        found.append({"needle": name, "where": where, "offset": offset, "part": part})


def bpftool(*args, ns=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + ["bpftool", "-j"] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), p.stderr.decode(errors="replace").strip()
                                       or "exit %d" % p.returncode))
    return json.loads(p.stdout or b"null")


def hexbytes(v):
    return bytes(int(x, 16) for x in v)


def map_ids(ns, pin_dir):
    """{map id: how it was found} of the programs attached in ns (named
    ps_*) and of the maps pinned under pin_dir."""
    ids, progs = {}, set()
    if ns:
        for dev in bpftool("net", "show", ns=ns) or []:
            for kind in ("xdp", "tc"):
                for a in dev.get(kind, []):
                    if "id" in a:
                        progs.add(a["id"])
    for pid in sorted(progs):
        p = bpftool("prog", "show", "id", str(pid))
        if not p.get("name", "").startswith("ps_"):
            continue
        for mid in p.get("map_ids", []):
            ids.setdefault(mid, "prog %s" % p["name"])
    if pin_dir and os.path.isdir(pin_dir):
        for root, _, files in os.walk(pin_dir):
            for f in files:
                try:
                    m = bpftool("map", "show", "pinned", os.path.join(root, f))
                except RuntimeError:
                    continue	# a pinned program, a link
                ids.setdefault(m["id"], "pinned %s" % f)
    return ids, sorted(progs)


def search_maps(needles, ns, pin_dir, found, searched):
    ids, progs = map_ids(ns, pin_dir)
    searched["programs"] = progs
    searched["maps"] = {}
    searched["maps_not_dumped"] = {}
    for mid in sorted(ids):
        info = bpftool("map", "show", "id", str(mid))
        name = "%s (id %d, %s)" % (info.get("name", "?"), mid, info.get("type"))
        try:
            entries = bpftool("map", "dump", "id", str(mid))
        except RuntimeError as e:
            searched["maps_not_dumped"][name] = str(e)[-200:]
            continue
        nbytes = 0
        for n, e in enumerate(entries or []):
            parts = [("key", e.get("key"))]
            if "value" in e:
                parts.append(("value", e["value"]))
            for v in e.get("values", []):
                parts.append(("value cpu %s" % v.get("cpu"), v.get("value")))
            for what, hexes in parts:
                if not isinstance(hexes, list):
                    continue
                b = hexbytes(hexes)
                nbytes += len(b)
                needles.search(b, "map %s entry %d %s" % (name, n, what), found, tails=True)
        searched["maps"][name] = {"entries": len(entries or []), "bytes": nbytes}


def search_pid(needles, pid, found, searched):
    regions = nbytes = 0
    unreadable = []
    with open("/proc/%d/maps" % pid) as mf, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in mf:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if f[1][0] != "r":
                continue
            label = "pid %d %s %s %s" % (pid, f[0], f[1], f[5] if len(f) > 5 else "[anon]")
            data = b""
            try:
                # A region at a time; read in pieces, a window's worth overlapping.
                for at in range(lo, hi, CHUNK):
                    mem.seek(at)
                    piece = mem.read(min(CHUNK, hi - at))
                    needles.search(data[-16:] + piece, label, found, base=at - lo - len(data[-16:]))
                    data = piece
                    nbytes += len(piece)
                regions += 1
            except OSError as e:
                unreadable.append("%s: %s" % (label, e.strerror))
    searched["memory"] = {"regions": regions, "bytes": nbytes, "unreadable": unreadable}


def search_file(needles, path, found, searched, label=None, kind="files"):
    n = 0
    prev = b""
    with open(path, "rb") as f:
        while True:
            piece = f.read(CHUNK)
            if not piece:
                break
            needles.search(prev[-16:] + piece, label or "file %s" % path, found,
                           base=n - len(prev[-16:]))
            n += len(piece)
            prev = piece
    searched.setdefault(kind, {})[path] = n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("needles")
    ap.add_argument("--netns")
    ap.add_argument("--pin-dir")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--core")
    ap.add_argument("--files", action="append", default=[])
    a = ap.parse_args()
    with open(a.needles) as f:
        needles = Needles(json.load(f))
    found, searched = [], {}
    if a.netns or a.pin_dir:
        search_maps(needles, a.netns, a.pin_dir, found, searched)
    if a.pid:
        search_pid(needles, a.pid, found, searched)
    if a.core:
        search_file(needles, a.core, found, searched, "core %s" % a.core, "core")
    for p in a.files:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                for name in sorted(files):
                    fp = os.path.join(root, name)
                    if os.path.isfile(fp) and not os.path.islink(fp):
                        search_file(needles, fp, found, searched)
        elif os.path.isfile(p):
            search_file(needles, p, found, searched)
        else:
            searched.setdefault("missing", []).append(p)
    json.dump({"searched": searched, "found": found}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
