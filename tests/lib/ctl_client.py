#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Clients of penstockd's control socket that the penstock CLI never is:
malformed, oversized, slow, idle, and a thousand at once.

Usage: ctl_client.py MODE SOCKET [options]

  send SOCKET (--data TEXT | --size N)
        write TEXT (escapes such as \\n understood) or N bytes of 'x' with no
        newline, then read to EOF
  slow SOCKET [--data TEXT] [--interval S]
        write TEXT one byte every S seconds (default 1) until the daemon
        answers or closes
  idle SOCKET
        connect and write nothing
  many SOCKET N [--data TEXT]
        open N connections, all of them before any request; then send TEXT
        (default a status request) on every one at once and read every
        answer; one more connection asks for status while all N are open
  hold SOCKET N
        open N connections and write nothing: what each gets and when
  swarm SOCKET [--slow N] [--idle N] [--big N] [--size BYTES]
        at once, from one process: N clients writing a status request a
        byte every --interval seconds, N writing nothing, N writing BYTES
        with no newline; what each gets and when

Each mode prints one JSON object: the answers (parsed), when they came
(seconds from the start), whether the daemon closed the connection, and
errors as the client saw them. Only the standard library is used.
"""

import argparse
import asyncio
import json
import resource
import socket
import sys
import time

STATUS = '{"cmd":"status"}\n'


def unescape(s):
    return s.encode().decode("unicode_escape").encode("latin-1")


def parse(data):
    lines = data.decode(errors="replace").strip().split("\n")
    out = []
    for line in lines:
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"unparsed": line[:200]})
    return out


def read_to_end(s, t0, deadline):
    """Read until EOF or reset; (data, closed, error, seconds at the end)."""
    data = b""
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, True, None, time.monotonic() - t0
            data += b
    except ConnectionResetError:
        return data, True, "reset", time.monotonic() - t0
    except socket.timeout:
        return data, False, "timeout", time.monotonic() - t0


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def mode_send(a):
    payload = unescape(a.data) if a.data is not None else b"x" * a.size
    t0 = time.monotonic()
    s = connect(a.socket)
    send_error = None
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError) as e:
        send_error = type(e).__name__
    data, closed, err, t = read_to_end(s, t0, t0 + a.timeout)
    s.close()
    return {"answers": parse(data), "closed": closed, "error": err, "send_error": send_error,
            "seconds": round(t, 3), "sent": len(payload)}


def mode_slow(a):
    payload = unescape(a.data)
    t0 = time.monotonic()
    s = connect(a.socket)
    s.setblocking(False)
    sent = 0
    data = b""
    closed = False
    err = None
    while time.monotonic() - t0 < a.timeout:
        if sent < len(payload):
            try:
                s.send(payload[sent:sent + 1])
                sent += 1
            except (BrokenPipeError, ConnectionResetError) as e:
                err = type(e).__name__
        end = time.monotonic() + a.interval
        while time.monotonic() < end:
            try:
                b = s.recv(65536)
                if not b:
                    closed = True
                    break
                data += b
            except BlockingIOError:
                time.sleep(0.02)
            except ConnectionResetError:
                closed, err = True, "reset"
                break
        if closed:
            break
    t = time.monotonic() - t0
    s.close()
    return {"answers": parse(data), "closed": closed, "error": err, "sent": sent,
            "seconds": round(t, 3)}


def mode_idle(a):
    t0 = time.monotonic()
    s = connect(a.socket)
    data, closed, err, t = read_to_end(s, t0, t0 + a.timeout)
    s.close()
    return {"answers": parse(data), "closed": closed, "error": err, "seconds": round(t, 3)}


async def one_exchange(path, text):
    r, w = await asyncio.open_unix_connection(path)
    w.write(text)
    await w.drain()
    data = await r.read()
    w.close()
    return data


async def many(a):
    text = unescape(a.data) if a.data is not None else STATUS.encode()
    t0 = time.monotonic()
    conns = await asyncio.gather(*[asyncio.open_unix_connection(a.socket)
                                   for _ in range(a.n)], return_exceptions=True)
    opened = [c for c in conns if not isinstance(c, Exception)]
    t_open = time.monotonic() - t0
    # While all are open: what the daemon says of its connections.
    st = parse(await one_exchange(a.socket, STATUS.encode()))
    during = st[0].get("control", {}).get("connections") if st else None
    t1 = time.monotonic()

    async def exchange(rw):
        r, w = rw
        w.write(text)
        await w.drain()
        data = await r.read()
        w.close()
        return data, time.monotonic() - t1

    res = await asyncio.gather(*[exchange(c) for c in opened], return_exceptions=True)
    total = time.monotonic() - t1
    ok = 0
    worst = 0.0
    errors = {}
    for x in res:
        if isinstance(x, Exception):
            errors[type(x).__name__] = errors.get(type(x).__name__, 0) + 1
            continue
        ans = parse(x[0])
        if len(ans) == 1 and ans[0].get("ok") is True:
            ok += 1
        else:
            key = (ans[0].get("error", "?") if ans else "no answer")[:80]
            errors[key] = errors.get(key, 0) + 1
        worst = max(worst, x[1])
    return {"connected": len(opened), "connect_errors": len(conns) - len(opened),
            "connect_seconds": round(t_open, 3), "connections_seen_by_daemon": during,
            "answered_ok": ok, "seconds": round(total, 3), "slowest": round(worst, 3),
            "errors": errors}


async def hold(a):
    t0 = time.monotonic()

    async def one():
        try:
            r, w = await asyncio.open_unix_connection(a.socket)
        except OSError as e:
            return {"connect_error": type(e).__name__}
        try:
            data = await asyncio.wait_for(r.read(), a.timeout)
            err = None
        except asyncio.TimeoutError:
            data, err = b"", "timeout"
        except ConnectionResetError:
            data, err = b"", "reset"
        w.close()
        ans = parse(data)
        return {"error": (ans[0].get("error") if ans else err), "at": time.monotonic() - t0}

    return {"outcomes": tally(await asyncio.gather(*[one() for _ in range(a.n)]))}


def tally(res):
    """Outcomes by the error answered (or how the connection ended)."""
    out = {}
    for x in res:
        key = x.get("error") or x.get("connect_error") or "closed without a word"
        e = out.setdefault(key, {"count": 0, "first": 1e9, "last": 0})
        e["count"] += 1
        if "at" in x:
            e["first"] = round(min(e["first"], x["at"]), 3)
            e["last"] = round(max(e["last"], x["at"]), 3)
    return out


async def swarm_one(path, t0, timeout, payload, interval):
    """Write payload (a byte every interval when interval) and read the answer.

    Raw sockets, not streams: the answer is read even when the daemon
    closed the connection under a write (EPIPE, then ECONNRESET)."""
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        await loop.sock_connect(s, path)
    except OSError as e:
        s.close()
        return {"connect_error": type(e).__name__}

    async def writer():
        try:
            if interval:
                for i in range(len(payload)):
                    await loop.sock_sendall(s, payload[i:i + 1])
                    await asyncio.sleep(interval)
            elif payload:
                await loop.sock_sendall(s, payload)
        except OSError:
            pass

    async def reader():
        data = b""
        try:
            while True:
                b = await loop.sock_recv(s, 65536)
                if not b:
                    return data, None
                data += b
        except ConnectionResetError:
            return data, "reset"

    wt = asyncio.ensure_future(writer())
    try:
        data, err = await asyncio.wait_for(reader(), timeout)
    except asyncio.TimeoutError:
        data, err = b"", "timeout"
    wt.cancel()
    try:
        await wt
    except asyncio.CancelledError:
        pass
    s.close()
    ans = parse(data)
    return {"error": (ans[0].get("error") if ans else err), "at": time.monotonic() - t0}


async def swarm(a):
    t0 = time.monotonic()
    jobs = ([swarm_one(a.socket, t0, a.timeout, STATUS.encode(), a.interval)
             for _ in range(a.slow)] +
            [swarm_one(a.socket, t0, a.timeout, b"", 0) for _ in range(a.idle)] +
            [swarm_one(a.socket, t0, a.timeout, b"x" * a.size, 0) for _ in range(a.big)])
    return {"outcomes": tally(await asyncio.gather(*jobs))}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["send", "slow", "idle", "many", "hold", "swarm"])
    ap.add_argument("socket")
    ap.add_argument("n", nargs="?", type=int, default=1000)
    ap.add_argument("--data")
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=15.0)
    ap.add_argument("--slow", type=int, default=0)
    ap.add_argument("--idle", type=int, default=0)
    ap.add_argument("--big", type=int, default=0)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(a.n, a.slow + a.idle + a.big) + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want), hard))
    if a.mode == "slow" and a.data is None:
        a.data = STATUS
    if a.mode == "send" and a.data is None and not a.size:
        ap.error("send: give --data or --size")
    fn = {"send": mode_send, "slow": mode_slow, "idle": mode_idle,
          "many": lambda a: asyncio.run(many(a)), "hold": lambda a: asyncio.run(hold(a)),
          "swarm": lambda a: asyncio.run(swarm(a))}
    print(json.dumps(fn[a.mode](a)))


if __name__ == "__main__":
    sys.exit(main())
