#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Inference requests from one client address, and what the server said.

  token_clients.py HOST PORT SRC KIND:MAX_TOKENS:PROMPT_WORDS...

Makes the requests in order on one kept-alive HTTP/1.1 connection from
source address SRC (Python's http.client), each of a KIND:

  stream        POST /v1/chat/completions, "stream": true: server-sent
                events, the usage in the last event before [DONE]
  stream-nousage  the same with "stream_options": {"include_usage": false}
  json          POST /v1/completions, one JSON answer with its usage

and prints one JSON object: the figures the answers themselves give, as
penstock defines them (docs/output-tokens.md): tx_events, the data: lines
of the event streams ([DONE] included); tx_tokens and rx_tokens, the
usage's completion_tokens and prompt_tokens; tx_tokens_estimated, the
events of the streams that reported no usage, [DONE] left out; and
requests, the requests answered 200.
"""

import http.client
import json
import sys


def main():
    host, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    got = {"tx_events": 0, "tx_tokens": 0, "rx_tokens": 0, "tx_tokens_estimated": 0,
           "requests": 0}
    conn = http.client.HTTPConnection(host, port, source_address=(src, 0), timeout=20)
    for spec in sys.argv[4:]:
        kind, max_tokens, words = spec.split(":")
        prompt = " ".join(["word%d" % i for i in range(int(words))])
        if kind == "json":
            path = "/v1/completions"
            body = {"model": "m", "prompt": prompt, "max_tokens": int(max_tokens)}
        else:
            path = "/v1/chat/completions"
            body = {"model": "m", "messages": [{"role": "user", "content": prompt}],
                    "max_tokens": int(max_tokens), "stream": True}
            if kind == "stream-nousage":
                body["stream_options"] = {"include_usage": False}
            elif kind != "stream":
                raise SystemExit("unknown kind %r" % kind)
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()      # chunked coding undone by http.client
        if resp.status != 200:
            raise SystemExit("%s: HTTP %d" % (spec, resp.status))
        got["requests"] += 1
        usage = None
        if kind == "json":
            usage = json.loads(data).get("usage")
        else:
            events = done = 0
            for line in data.decode().splitlines():
                if not line.startswith("data:"):
                    continue
                events += 1
                payload = line[5:].strip()
                if payload == "[DONE]":
                    done += 1
                    continue
                ev = json.loads(payload)
                if ev.get("usage"):
                    usage = ev["usage"]
            got["tx_events"] += events
            if usage is None:
                got["tx_tokens_estimated"] += events - done
        if usage is not None:
            got["tx_tokens"] += usage["completion_tokens"]
            got["rx_tokens"] += usage["prompt_tokens"]
    conn.close()
    print(json.dumps(got))


if __name__ == "__main__":
    main()
