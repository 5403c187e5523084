"""mooncat-checkpoint 0.1.0 (Python), the other side of tests/ledger_python.rs.

    mooncat_ledger.py URL claim NS KEY OWNER LEASE_MS   the ClaimResult as JSON
    mooncat_ledger.py URL done NS KEY TOKEN RESULT_JSON RESULT_REF
    mooncat_ledger.py URL fail NS KEY TOKEN ERROR
    mooncat_ledger.py URL get NS KEY                   the record (or null)
    mooncat_ledger.py URL list NS STATUS               records with STATUS
    mooncat_ledger.py URL race NS N GO_FILE            claims k0..k{N-1}, shuffled, once GO_FILE exists
    mooncat_ledger.py - keys                           safe_key_segment of each key on stdin (JSON list)
    mooncat_ledger.py - replay                         runs each call sequence on stdin on a fresh
                                                       MemoryBackend client; the masked answers

A record is printed as its to_json_dict(); an error as
{"error": CLASS, "message": TEXT}. `list` calls backend.list with the enum
(client.list(ns, status) has 0.1.0's AttributeError bug on SQLite).
"""
import json
import os
import random
import sys
import time

from mooncat_checkpoint import CheckpointClient, LeaseLostError
from mooncat_checkpoint.protocol import CheckpointStatus, ListOptions
from mooncat_checkpoint.sanitize import safe_key_segment


def record(r):
    return None if r is None else r.to_json_dict()


def masked(r):
    """A record without its token and times (they differ between runs)."""
    if r is None:
        return None
    d = r.to_json_dict()
    d["leaseToken"] = d["leaseToken"] is not None
    d["leaseUntil"] = d["leaseUntil"] is not None
    del d["createdAt"], d["updatedAt"]
    return d


def replay_one(calls):
    cp = CheckpointClient("memory://")
    tokens = {}
    out = []
    for c in calls:
        op, ns, key = c["op"], c.get("ns", "model"), c.get("key")
        token = tokens.get(key, "") if c.get("own") else "not-a-token"
        try:
            if op == "claim":
                r = cp.claim(ns, key, owner_run_id=c.get("owner"), lease_ms=c["lease_ms"])
                if r.kind == "claimed":
                    tokens[key] = r.lease_token
                out.append({"kind": r.kind, "record": masked(r.checkpoint)})
            elif op == "touch":
                out.append(masked(cp.touch(ns, key, lease_token=token, extend_ms=3_600_000)))
            elif op == "done":
                out.append(masked(cp.done(ns, key, lease_token=token, result=c["result"])))
            elif op == "fail":
                out.append(masked(cp.fail(ns, key, "boom", lease_token=token)))
            elif op == "reset":
                out.append(cp.reset(ns, key))
            elif op == "get":
                out.append(masked(cp.get(ns, key)))
            elif op == "list":
                status = c.get("status")
                opts = ListOptions(status=CheckpointStatus(status)) if status else None
                out.append(sorted((masked(r) for r in cp._backend.list(ns, opts)), key=lambda d: d["key"]))
            elif op == "gc":
                time.sleep(0.003)  # past the millisecond of every 0 ms lease
                out.append(cp.gc(0))
            else:
                raise SystemExit(f"unknown call {op!r}")
        except LeaseLostError:
            out.append({"error": "LeaseLost"})
        except ValueError:
            out.append({"error": "InvalidNamespace"})
    return out


def main(argv):
    url, op, args = argv[0], argv[1], argv[2:]
    if op == "keys":
        return [safe_key_segment(k) for k in json.load(sys.stdin)]
    if op == "replay":
        return [replay_one(calls) for calls in json.load(sys.stdin)]
    cp = CheckpointClient(url)
    try:
        if op == "claim":
            ns, key, owner, lease_ms = args
            c = cp.claim(ns, key, owner_run_id=owner or None,
                         lease_ms=None if lease_ms == "" else int(lease_ms))
            return {"kind": c.kind, "leaseToken": c.lease_token, "checkpoint": record(c.checkpoint)}
        if op == "done":
            ns, key, token, result, result_ref = args
            return record(cp.done(ns, key, lease_token=token, result=json.loads(result),
                                  result_ref=result_ref or None))
        if op == "fail":
            ns, key, token, error = args
            return record(cp.fail(ns, key, error, lease_token=token))
        if op == "get":
            return record(cp.get(args[0], args[1]))
        if op == "list":
            ns, status = args
            return [record(r) for r in cp._backend.list(ns, ListOptions(status=CheckpointStatus(status)))]
        if op == "race":
            ns, n, go = args[0], int(args[1]), args[2]
            while not os.path.exists(go):
                time.sleep(0.001)
            keys = [f"k{i}" for i in range(n)]
            random.shuffle(keys)  # so that the two racers meet all along
            won = []
            for k in keys:
                if cp.claim(ns, k, owner_run_id="python").kind == "claimed":
                    won.append(k)
                time.sleep(0.001)  # leave the write lock free now and then, as the Rust side does
            return won
        raise SystemExit(f"unknown op {op!r}")
    except LeaseLostError as e:
        return {"error": "LeaseLostError", "message": str(e)}
    finally:
        cp.close()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), ensure_ascii=False))
