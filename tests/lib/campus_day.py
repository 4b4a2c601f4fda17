#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A day written apart from tools/scenario.py: a campus /24 of people and a
client taking long completions, for detection to be judged on populations
it was not tuned on.

Usage: campus_day.py OUT.pcap LABELS.json [--hours H] [--seed N] [--start HH]
                     [--outflow-at MIN] [--town N]

Its own pcap and TCP writer (one connection a request, as a browser
behind a campus proxy that does not pool), its own distributions:
  campus     120 people in 198.18.77.0/24 (hosts .10-.129). Sessions
             arrive as a Poisson process whose rate follows a daytime
             curve (a raised sine, peak at 14:00); a session is 2-14
             requests (uniform), think times a gamma of shape 2, mean 36 s
             (tens of seconds: reading, typing), answers a gamma of shape
             2, mean 1000 bytes of JSON.
  town       60 people (--town, at most 156), each in a /24 of its own
             (198.18.100-255.x), the same behaviour: the population
             single clients are judged against.
  outflow    198.18.90.33 from --outflow-at minutes: long completions one
             after another, a request every 8-12 s (about 6 a minute),
             answers of 9-11 KB (ten times a person's), prompts of
             200-400 bytes.
Labels: {"start", "hours", "campus_prefix", "campus", "town", "outflow",
"outflow_first"} (outflow_first: Unix seconds of its first SYN).
Python 3 standard library only.
"""
import argparse
import ipaddress
import json
import math
import random
import struct

SERVER = "198.18.0.1"
PORT = 8000
MSS = 1448


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Pcap:
    def __init__(self, path):
        self.recs = []
        self.path = path

    def tcp(self, t, src, sport, dst, dport, seq, ack, flags, payload=b""):
        s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
        hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        pseudo = s + d + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
        c = csum(pseudo + hdr + payload)
        hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(hdr) + len(payload), 0, 0x4000, 64,
                         6, 0, s, d)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frame = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip + hdr + payload
        self.recs.append((t, frame))

    def write(self):
        self.recs.sort(key=lambda r: r[0])
        with open(self.path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for t, fr in self.recs:
                us = int(round(t * 1e6))
                f.write(struct.pack("<IIII", us // 1000000, us % 1000000, len(fr), len(fr)))
                f.write(fr)


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def exchange(p, rng, t, client, sport, prompt_len, answer_len):
    """One request on a connection of its own; returns when it ended."""
    rtt = 0.02 + rng.random() * 0.03
    cs, ss = rng.getrandbits(32), rng.getrandbits(32)
    p.tcp(t, client, sport, SERVER, PORT, cs, 0, SYN)
    p.tcp(t + rtt / 2, SERVER, PORT, client, sport, ss, cs + 1, SYN | ACK)
    t += rtt
    p.tcp(t, client, sport, SERVER, PORT, cs + 1, ss + 1, ACK)
    body = b'{"model":"m","messages":[{"role":"user","content":"' + \
        b"x" * max(0, prompt_len - 60) + b'"}]}'
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%d\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
           % (SERVER.encode(), PORT, len(body))) + body
    cseq = cs + 1
    for i in range(0, len(req), MSS):
        seg = req[i:i + MSS]
        p.tcp(t, client, sport, SERVER, PORT, cseq, ss + 1, ACK | PSH, seg)
        cseq += len(seg)
        t += 0.0005
    t += rtt / 2
    p.tcp(t, SERVER, PORT, client, sport, ss + 1, cseq, ACK)
    # generation: about 25 ms a 4 bytes of text
    t += 0.2 + answer_len / 4 * 0.025
    ans = b'{"choices":[{"message":{"content":"' + b"y" * max(0, answer_len - 40) + b'"}}]}'
    resp = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(ans)) + ans
    sseq = ss + 1
    n = 0
    for i in range(0, len(resp), MSS):
        seg = resp[i:i + MSS]
        p.tcp(t, SERVER, PORT, client, sport, sseq, cseq, ACK | PSH, seg)
        sseq += len(seg)
        n += 1
        t += 0.0002
        if n % 2 == 0:
            p.tcp(t + rtt / 2, client, sport, SERVER, PORT, cseq, sseq, ACK)
    p.tcp(t, SERVER, PORT, client, sport, sseq, cseq, FIN | ACK)
    t += rtt / 2
    p.tcp(t, client, sport, SERVER, PORT, cseq, sseq + 1, FIN | ACK)
    t += rtt / 2
    p.tcp(t, SERVER, PORT, client, sport, sseq + 1, cseq + 1, ACK)
    return t


def daytime(hour):
    """Sessions' rate through the day: a raised sine, 0.1 at night, 1 at 14:00."""
    return 0.1 + 0.9 * max(0.0, math.sin(math.pi * (hour - 7) / 14)) ** 2 \
        if 7 <= hour <= 21 else 0.1


def person(p, rng, addr, start, span, sessions_per_hour):
    """Sessions of 2-14 requests with think times; returns its requests."""
    t, n, sport = 0.0, 0, rng.randint(32768, 60000)
    peak = sessions_per_hour / 3600.0
    while True:
        t += rng.expovariate(peak)
        if t >= span:
            return n
        hour = ((start + t) % 86400) / 3600
        if rng.random() > daytime(hour):
            continue
        for _ in range(rng.randint(2, 14)):
            if t >= span:
                break
            sport = sport + 1 if sport < 60999 else 32768
            t = exchange(p, rng, start + t, addr, sport, rng.randint(150, 1500),
                         max(60, int(rng.gammavariate(2, 500)))) - start
            n += 1
            t += rng.gammavariate(2, 18)
        t += 60


def outflow_client(p, rng, addr, start, at, span):
    t, n, sport = at, 0, rng.randint(32768, 60000)
    while t < span:
        sport = sport + 1 if sport < 60999 else 32768
        exchange(p, rng, start + t, addr, sport, rng.randint(200, 400), rng.randint(9000, 11000))
        n += 1
        t += rng.uniform(8, 12)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("labels")
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=float, default=13.0, help="hour of day (UTC)")
    ap.add_argument("--outflow-at", type=float, default=20.0, help="minutes")
    ap.add_argument("--town", type=int, default=60, help="people in /24s of their own")
    a = ap.parse_args()
    rng = random.Random("campus-day/%d" % a.seed)
    start = 1741000000 - 1741000000 % 86400 + a.start * 3600
    span = a.hours * 3600
    p = Pcap(a.out)
    campus = ["198.18.77.%d" % h for h in range(10, 130)]
    town = ["198.18.%d.%d" % (100 + i, rng.randint(2, 250)) for i in range(a.town)]
    # 590 requests an hour from the campus at the peak: 120 people, 8
    # requests a session: about 0.6 sessions a person an hour.
    for addr in campus:
        person(p, random.Random("%d/%s" % (a.seed, addr)), addr, start, span, 0.6)
    for addr in town:
        person(p, random.Random("%d/%s" % (a.seed, addr)), addr, start, span, 1.2)
    oaddr = "198.18.90.33"
    at = a.outflow_at * 60
    outflow_client(p, random.Random("%d/outflow" % a.seed), oaddr, start, at, span)
    p.write()
    with open(a.labels, "w") as f:
        json.dump({"start": start, "hours": a.hours, "campus_prefix": "198.18.77.0/24",
                   "campus": campus, "town": town, "outflow": oaddr,
                   "outflow_first": start + at}, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
