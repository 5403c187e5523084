"""The real purpose-agent 3.0.1 checkpointers as a test client of
checkpointer's event log (tests/events_python.rs runs this).

    purpose_agent_events.py write  jsonl|sqlite PATH RUN
        writes events (two lanes, unicode, nested payloads) and a snapshot
        with Python, prints {"events": [to_dict...], "state": to_dict}
    purpose_agent_events.py read   jsonl|sqlite PATH RUN SINCE
        prints what Python reads: {"all", "since", "state", "runs"}
    purpose_agent_events.py append jsonl|sqlite PATH RUN SEQ
        appends one event with seq SEQ (a run both sides write)
"""
import json
import sys

from purpose_agent.runtime.checkpoint import JSONLCheckpointer, SQLiteCheckpointer
from purpose_agent.runtime.events import EventKind, PAEvent, Visibility
from purpose_agent.runtime.state import NodeState, RunState, RunStatus


def open_backend(kind, path):
    return JSONLCheckpointer(path) if kind == "jsonl" else SQLiteCheckpointer(path)


def write(cp, run):
    events = []
    kinds = list(EventKind)
    for seq in range(1, 28):
        lane = "main" if seq % 3 else "lane-b"
        e = PAEvent(
            run_id=run,
            session_id="sess-1",
            lane_id=lane,
            parent_span_id=None if seq == 1 else "root00000001",
            seq=seq,
            kind=kinds[seq - 1],
            visibility=Visibility.INTERNAL if seq % 5 == 0 else Visibility.PUBLIC,
            payload={"i": seq, "text": "héllo 中文 😀", "nested": {"a": [1, 2.5, None, True]}, "extra_key": {"kept": seq}},
        )
        cp.save_event(e)
        events.append(e.to_dict())
    state = RunState(run_id=run, session_id="sess-1", status=RunStatus.PAUSED, purpose="index the repo")
    state.current_node = "tools"
    state.current_step = 4
    state.data = {"files": ["a.py", "b.py"], "名": "ü"}
    state.mark_node_started("plan")
    state.mark_node_completed("plan", {"plan": ["x"]})
    state.mark_node_started("tools")
    state.mark_node_failed("tools", "timeout")
    state.action_history = [{"step": i} for i in range(10)]
    state.tool_results_cache = {state.get_idempotency_key("search", "abc"): {"hits": 3}}
    state.metadata = {"model": "m-1"}
    cp.save_snapshot(run, state)
    return {"events": events, "state": state.to_dict()}


def read(cp, kind, run, since):
    latest = cp.load_latest(run)
    return {
        "all": [e.to_dict() for e in cp.list_events(run)],
        "since": [e.to_dict() for e in cp.list_events(run, since_seq=since)],
        "state": latest.to_dict() if latest else None,
        "runs": cp.list_runs() if kind == "sqlite" else None,
    }


def main():
    command, kind, path, run = sys.argv[1:5]
    cp = open_backend(kind, path)
    if command == "write":
        out = write(cp, run)
    elif command == "read":
        out = read(cp, kind, run, int(sys.argv[5]))
    elif command == "append":
        seq = int(sys.argv[5])
        e = PAEvent(run_id=run, seq=seq, kind=EventKind.TOOL_RESULT, payload={"from": "python", "seq": seq})
        cp.save_event(e)
        out = e.to_dict()
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
