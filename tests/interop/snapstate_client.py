"""Drives `checkpointer serve` with the real snapstate-sdk 1.0.2 client,
sync and async. Run by tests/server_sdk.rs:

    python snapstate_client.py URL KEY LIMITED_URL LIMITED_KEY

LIMITED_URL is a second server whose rate limit is 1 request per second.
Every check is an assert; the script prints one JSON line at the end.
"""
import asyncio
import hashlib
import hmac
import http.server
import json
import queue
import sys
import threading

from snapstate_sdk import SnapStateClient
from snapstate_sdk.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
)

URL, KEY, LIMITED_URL, LIMITED_KEY = sys.argv[1:5]
GOLDEN = [
    ({"sources": ["arxiv.org/123"], "progress": 0.25}, 45, '"99ebf23ad4d5b076"'),
    ({}, 2, '"44136fa355b3678a"'),
    ({"x": 1.0, "k": "é", "big": 1e21, "small": 1e-7}, 41, '"b777e38b315d09a9"'),
]


def raises(kind, fn, *args, **kwargs):
    try:
        result = fn(*args, **kwargs)
        if asyncio.iscoroutine(result):
            asyncio.get_event_loop().run_until_complete(result)
    except kind as e:
        return e
    raise AssertionError(f"{fn.__name__} did not raise {kind.__name__}")


class Sync:
    def __init__(self, client):
        self.c = client

    def __getattr__(self, name):
        return getattr(self.c, name)


class Async:
    """The async_* methods behind the sync names, run to completion."""

    def __init__(self, client, loop):
        self.c, self.loop = client, loop

    def __getattr__(self, name):
        method = getattr(self.c, "async_" + name)
        return lambda *a, **k: self.loop.run_until_complete(method(*a, **k))


def scenario(client, wf):
    # save: golden etag and size
    for step, (state, size, etag) in enumerate(GOLDEN, start=1):
        saved = client.save(wf, step, state, label=f"s{step}", agent_id="agent-1", metadata={"m": step})
        assert (saved.etag, saved.size_bytes) == (etag, size), (saved, etag, size)
        assert saved.checkpoint_id == f"cp_{wf}_{step:03d}", saved.checkpoint_id
    # duplicate step: ConflictError; the same step with if_match: idempotent
    e = raises(ConflictError, client.save, wf, 1, {"other": True})
    assert e.status_code == 409
    again = client.save(wf, 1, {"other": True}, if_match=GOLDEN[0][2])
    assert again.etag == GOLDEN[0][2]
    raises(ConflictError, client.save, wf, 1, {}, if_match='"nope"')
    for step in range(4, 8):
        client.save(wf, step, {"step": step})
    # resume: the latest step, with its etag
    resumed = client.resume(wf)
    assert resumed.latest_checkpoint.step == 7 and resumed.total_checkpoints == 7, resumed
    assert resumed.latest_checkpoint.etag and resumed.latest_checkpoint.workflow_id == wf
    # replay: filter, then page
    page = client.replay(wf, from_step=2, to_step=6, limit=3)
    assert [c.step for c in page.checkpoints] == [2, 3, 4] and page.has_more and page.total == 3, page
    rest = client.replay(wf, from_step=5)
    assert [c.step for c in rest.checkpoints] == [5, 6, 7] and not rest.has_more
    # get, and an unknown id
    got = client.get(f"cp_{wf}_002")
    assert got.state == {} and got.label == "s2" and got.agent_id == "agent-1", got
    raises(NotFoundError, client.get, f"cp_{wf}_999")
    raises(NotFoundError, client.resume, wf + "-unknown")
    # over 1 MiB
    raises(PayloadTooLargeError, client.save, wf, 99, {"s": "x" * (1024 * 1024)})
    # agents
    agent = client.register_agent("agent-1", "Researcher", capabilities=["search"], metadata={"v": 1})
    assert agent.agent_id == "agent-1" and agent.name == "Researcher", agent
    assert "agent-1" in [a.agent_id for a in client.list_agents()]


class Hooks(http.server.BaseHTTPRequestHandler):
    received = queue.Queue()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooks.received.put(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def webhook(client):
    server = http.server.HTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    registered = client.register_webhook(url, ["checkpoint.saved"], secret="hook-secret")
    assert registered["webhook_id"].startswith("wh_") and "secret" not in registered
    client.save("sdk-hooked", 1, {"a": 1})
    headers, body = Hooks.received.get(timeout=20)
    want = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    assert headers["x-checkpoint-signature"] == want, (headers, want)
    event = json.loads(body)
    assert event["event"] == "checkpoint.saved" and event["data"]["checkpoint_id"] == "cp_sdk-hooked_001"
    server.shutdown()


def main():
    with SnapStateClient(KEY, base_url=URL) as client:
        scenario(Sync(client), "sdk-sync")
        webhook(client)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    client = SnapStateClient(KEY, base_url=URL)
    scenario(Async(client, loop), "sdk-async")
    loop.run_until_complete(client.async_close())
    # a bad key
    with SnapStateClient("snp_" + "0" * 32, base_url=URL) as bad:
        raises(AuthError, bad.resume, "sdk-sync")
    bad = SnapStateClient("snp_" + "0" * 32, base_url=URL)
    raises(AuthError, lambda: loop.run_until_complete(bad.async_resume("sdk-async")))
    # the rate limit: 1 request per second, so the second is refused
    with SnapStateClient(LIMITED_KEY, base_url=LIMITED_URL, max_retries=1) as limited:
        limited.save("limited", 1, {})
        e = raises(RateLimitError, limited.save, "limited", 2, {})
        assert e.retry_after == 1, e.retry_after
    limited = SnapStateClient(LIMITED_KEY, base_url=LIMITED_URL, max_retries=1)
    try:  # the window may or may not have room for this one
        loop.run_until_complete(limited.async_save("limited", 3, {}))
    except RateLimitError:
        pass
    # Refused requests count too, so the window is full now.
    e = raises(RateLimitError, lambda: loop.run_until_complete(limited.async_save("limited", 4, {})))
    assert e.retry_after == 1
    print(json.dumps({"ok": True}))


main()
