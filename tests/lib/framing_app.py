# SPDX-License-Identifier: GPL-2.0-only
"""The ASGI application behind uvicorn in tests/e2e/test_framing_servers.

A FastAPI app shaped like an OpenAI-compatible inference server (POST
/v1/chat/completions, GET /health), wrapped in a plain ASGI layer that
writes one JSON line per request the server hands to the application,
once FastAPI has answered it:

    {"client": "198.18.0.7", "method": "POST",
     "target": "/v1/chat/completions?n=2", "path": "/v1/chat/completions",
     "body": 2, "complete": true, "status": 200}

"client" is the peer address, or the X-Real-IP header when the peer is
loopback (nginx proxying). "target" is the request target as sent, "path"
the decoded path FastAPI routes on, "status" FastAPI's answer (whether or
not it reached the client; null when the body never came whole). "body"
is the number of body bytes the server framed for the request: the
wrapper reads them all before FastAPI sees the request, as a POST
handler would. "complete" is false when the connection went away before
the body was all there.

The complete lines are the server's own count of the requests it served;
those answered 2xx on an inference path are the inference requests it
served. The test reads the file after the traffic, so the counting needs
no request of its own on the wire. The file is $PS_FRAMING_LOG, appended
to and flushed per line.

Run with: uvicorn --app-dir tests/lib framing_app:app --http h11|httptools
"""

import json
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

LOG = open(os.environ.get("PS_FRAMING_LOG", "/dev/null"), "a", buffering=1)

api = FastAPI()


@api.post("/v1/chat/completions")
async def chat(request: Request):
    body = await request.body()
    return JSONResponse({"object": "chat.completion", "bytes": len(body)})


@api.get("/health")
async def health():
    return {"status": "ok"}


def _client(scope):
    peer = (scope.get("client") or ("", 0))[0]
    if peer in ("127.0.0.1", "::1"):
        for k, v in scope.get("headers", []):
            if k == b"x-real-ip":
                return v.decode("latin-1")
    return peer


async def app(scope, receive, send):
    """Read the body, let FastAPI answer, then log the request."""
    if scope["type"] != "http":
        await api(scope, receive, send)
        return
    chunks, more = [], True
    while more:
        msg = await receive()
        if msg["type"] != "http.request":
            break   # the client went away before the body was complete
        chunks.append(msg.get("body", b""))
        more = msg.get("more_body", False)
    body = b"".join(chunks)
    target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    status = None
    replayed = False

    async def replay():
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    async def send_status(msg):
        nonlocal status
        if msg["type"] == "http.response.start":
            status = msg["status"]
        await send(msg)

    try:
        if not more:    # else nothing to answer: the connection is gone
            await api(scope, replay, send_status)
    finally:
        LOG.write(json.dumps({"client": _client(scope), "method": scope["method"],
                              "target": target, "path": scope["path"],
                              "body": len(body), "complete": not more,
                              "status": status}) + "\n")
