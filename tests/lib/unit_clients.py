#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Clients of tests/e2e/test_systemd and test_container: the requests whose
counts those tests check, each kind on one keep-alive connection from its
own address, to tests/lib/llm_server.py on port 8000 (an endpoint with
identity: api_key, forwarded_for and the second address a trusted proxy,
the third address in a class with a token limit and a reserve).

Usage: unit_clients.py before|after SERVER A0 A1 A2 A3 KEY_A KEY_B

  before  from A0: KEY_A (Authorization: Bearer) twice, KEY_B (x-api-key)
          once; from A1, the proxy: X-Forwarded-For "203.0.113.9,
          198.18.50.7" twice and Forwarded for="[fd00:5053::99]:4711"
          once; from A2: three requests one after the other, with when
          each started and was answered (seconds from the first's start)
  after   from A0: KEY_A once and one request without a key; from A3 (a
          blocked client): one request, which must get no answer in 0.5 s

Prints one JSON object: the statuses (null for no answer), the metered
requests' times, and the keys (so that the caller's oracle hashes what
was sent). Only the Python standard library is used.
"""

import http.client
import json
import sys
import time

BODY = json.dumps({"model": "m", "max_tokens": 16,
                   "messages": [{"role": "user", "content": "one two three"}]})
PATH = "/v1/chat/completions"


def conn(src, dst, timeout=10.0):
    return http.client.HTTPConnection(dst, 8000, source_address=(src, 0), timeout=timeout)


def ask(c, headers):
    h = {"Content-Type": "application/json"}
    h.update(headers)
    try:
        c.request("POST", PATH, BODY, h)
        r = c.getresponse()
        r.read()
        return r.status
    except (OSError, http.client.HTTPException):
        c.close()
        return None


def main():
    mode, dst, a0, a1, a2, a3, ka, kb = sys.argv[1:9]
    out = {"keys": [ka, kb], "status": {}}
    if mode == "before":
        c = conn(a0, dst)
        out["status"]["keys"] = [ask(c, {"Authorization": "Bearer " + ka}),
                                 ask(c, {"Authorization": "Bearer " + ka}),
                                 ask(c, {"x-api-key": kb})]
        c.close()
        c = conn(a1, dst)
        out["status"]["forwarded"] = [
            ask(c, {"X-Forwarded-For": "203.0.113.9, 198.18.50.7"}),
            ask(c, {"X-Forwarded-For": "203.0.113.9, 198.18.50.7"}),
            ask(c, {"Forwarded": 'for="[fd00:5053::99]:4711";proto=http'})]
        c.close()
        c = conn(a2, dst)
        c.connect()
        t0 = time.monotonic()
        out["metered"] = []
        for _ in range(3):
            start = time.monotonic() - t0
            st = ask(c, {})
            out["metered"].append({"status": st, "start": start, "end": time.monotonic() - t0})
        c.close()
    else:
        c = conn(a0, dst)
        out["key_a"] = ask(c, {"Authorization": "Bearer " + ka})
        out["plain"] = ask(c, {})
        c.close()
        c = conn(a3, dst, timeout=0.5)
        out["blocked"] = ask(c, {})
        c.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
