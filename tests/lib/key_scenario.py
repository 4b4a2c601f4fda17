#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A capture of API-key populations, on tools/scenario.py's simulation.

Usage: key_scenario.py OUT.pcap LABELS.json [--hours H] [--seed N]

Populations (every client sends OpenAI-style requests with
Authorization: Bearer; the labels give each key and address):
  campus        120 people behind one /24 (198.18.77.0/24), a key each,
                chatting as tools/scenario.py's benign users do
  office        150 such people behind one NAT address (198.18.78.1)
  integration   one application key from two servers (198.18.3.10, .11)
  shared-key    one key from 40 addresses in 40 networks (a key handed
                round a residential proxy network), a request every few
                minutes from each
  key-hydra     one address (198.19.210.5) cycling through 30 keys, a
                request every 10 s (each key about 12 an hour, alike)
The labels list, for each population, its addresses and the keys it
shares (the campus's and the office's are each person's own).
"""
import argparse
import ipaddress
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tools"))
import scenario as sc  # noqa: E402


def proxy_user(w, cl, rng, key, interval):
    """One exit address of a proxy network using a shared key."""
    style = sc.style_plain("python-httpx/0.27.2", "application/json")
    ag = sc.Agent(w.sim, cl, rng, sc.lognorm(rng, 0.080, 0.5, 0.01, 0.4), style, key)
    t = rng.uniform(0, 120)
    while t < w.span:
        ag.wait(t)
        yield t
        body = w.c.chat_body([(b"user", w.c.slice(rng, sc.lognorm(rng, 600, 0.6, 80, 4000)))],
                             1024, False, 0.6)
        ctoks = int(sc.lognorm(rng, 400, 0.5, 16, 1024))
        t = ag.call(t, "POST", "/v1/chat/completions", body,
                    sc.chat_answer(w, t, rng, len(body) // 4, ctoks, False))
        ag.close(True)
        t += rng.expovariate(1 / interval)


def hydra_keys(w, cl, rng, keys, interval):
    """One address cycling through many accounts' keys."""
    style = sc.style_plain("python-requests/2.32.3", "application/json")
    ag = sc.Agent(w.sim, cl, rng, 0.02, style, keys[0])
    t = rng.uniform(0, 10)
    i = 0
    while t < w.span:
        ag.wait(t)
        yield t
        ag.key = keys[i % len(keys)]
        i += 1
        body = w.c.chat_body([(b"user", w.c.slice(rng, sc.lognorm(rng, 900, 0.5, 120, 4000)))],
                             1024, False, 0.8)
        ctoks = int(sc.lognorm(rng, 450, 0.4, 16, 1024))
        t = ag.call(t, "POST", "/v1/chat/completions", body,
                    sc.chat_answer(w, t, rng, len(body) // 4, ctoks, False))
        t += rng.uniform(0.8 * interval, 1.2 * interval)
    ag.close(False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("labels")
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random("penstock-key-scenario/%d" % a.seed)
    epoch = sc.parse_start("2025-03-03T09:00:00Z")
    sim = sc.Sim(a.out, epoch)
    w = sc.World(sim, sc.Content(), epoch, a.hours * 3600.0, {"rpm": 60, "rpd": 20000})
    labels = {}
    actors = []

    def add(addr, pop, fn):
        sub = random.Random("%d/%s" % (a.seed, addr))
        cl = sc.Client(sim, addr, pop, None, rng=sub)
        acts = fn(w, cl, sub)
        actors.extend(acts if isinstance(acts, list) else [acts])
        labels.setdefault(pop, {"addresses": [], "keys": []})["addresses"].append(addr)
        return cl

    orig_key = sc._key
    for h in rng.sample(range(2, 254), 120):
        add("198.18.77.%d" % h, "campus", sc.benign_user)

    # An office behind one NAT address: 150 people, a key each.
    office = sc.Client(sim, "198.18.78.1", "office", None, rng=random.Random("office"))
    labels["office"] = {"addresses": ["198.18.78.1"], "keys": []}
    for i in range(150):
        actors.append(sc.benign_user(w, office, random.Random("%d/office/%d" % (a.seed, i))))
    ikey = orig_key(rng)
    labels["integration"] = {"addresses": [], "keys": [ikey]}
    for addr in ("198.18.3.10", "198.18.3.11"):
        add(addr, "integration",
            lambda w_, cl, sub: proxy_user(w_, cl, sub, ikey, 20.0))

    skey = orig_key(rng)
    labels["shared-key"] = {"addresses": [], "keys": [skey]}
    nets = rng.sample(range(0, 256), 40)
    for n in nets:
        addr = str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("198.19.0.0")) + n * 256
                                         + rng.randint(1, 254)))
        add(addr, "shared-key", lambda w_, cl, sub: proxy_user(w_, cl, sub, skey, 300.0))

    hkeys = [orig_key(rng) for _ in range(30)]
    labels["key-hydra"] = {"addresses": [], "keys": hkeys}
    add("198.19.210.5", "key-hydra", lambda w_, cl, sub: hydra_keys(w_, cl, sub, hkeys, 10.0))

    for act in actors:
        sim.spawn(act)
    sim.run()
    with open(a.labels, "w") as f:
        json.dump(labels, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
