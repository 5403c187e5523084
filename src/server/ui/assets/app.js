// The checkpointer web page: fetches the JSON endpoints (relative to the
// page's <base href>) and builds the page from text nodes only. Nothing
// from the database is ever parsed as markup.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const PAGE = 50;
  const MAX_HISTORY = 10000;
  const LANE = 22, ROW = 34, X0 = 16, Y0 = 22;
  const LANE_COLOURS = ["#2f6fdf", "#8a3ffc", "#e8590c", "#1e9e5a", "#d6336c", "#0b7285", "#a87b00"];
  const SOURCE_COLOURS = { input: "#868e96", loop: "#2f6fdf", update: "#e8590c", fork: "#8a3ffc" };
  const $ = (id) => document.getElementById(id);

  // Control characters and bidirectional overrides, shown as \u{..}.
  const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
  function visible(s) {
    return String(s).replace(HIDDEN, (c) => "\\u{" + c.codePointAt(0).toString(16) + "}");
  }
  // An element with attributes and children (strings become text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.append(typeof c === "string" ? document.createTextNode(visible(c)) : c);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }
  // One path segment; dots too, so an id such as "a/../b" stays one segment.
  const seg = (s) => encodeURIComponent(s).replace(/\./g, "%2E");
  const short = (id) => (id.length > 12 ? id.slice(0, 8) + "…" + id.slice(-4) : id);
  function when(ts) {
    if (!ts) return "—";
    const d = new Date(ts);
    return isNaN(d.getTime()) ? ts : d.toLocaleString();
  }
  // Pretty JSON keeps its line breaks; JSON.stringify already escapes
  // control characters inside strings, all but DEL, C1 and bidi ones.
  const HIDDEN_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
  const json = (v) => JSON.stringify(v, null, 2)
    .replace(HIDDEN_IN_JSON, (c) => "\\u{" + c.codePointAt(0).toString(16) + "}");
  // A <pre> of pretty JSON (text, with its line breaks kept).
  function pre(attrs, text) {
    const e = el("pre", attrs);
    e.textContent = text;
    return e;
  }

  async function get(path) {
    const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401) { location.reload(); throw new Error("signed out"); }
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    if (!r.ok) throw new Error((body && body.error && body.error.message) || ("HTTP " + r.status));
    return body;
  }
  function showError(e) {
    const box = $("error");
    box.textContent = visible(e && e.message ? e.message : e);
    box.hidden = false;
  }

  function route() {
    return new URLSearchParams(location.hash.slice(1));
  }
  function go(params) {
    location.hash = new URLSearchParams(params).toString();
  }

  async function render() {
    $("error").hidden = true;
    const r = route();
    try {
      if (r.has("thread")) await renderThread(r.get("thread"), r.get("ns"), r.get("cp"), Number(r.get("limit")) || 0);
      else await renderThreads(Number(r.get("offset")) || 0);
    } catch (e) { showError(e); }
  }

  // ---- the threads ----
  async function renderThreads(offset) {
    $("thread-view").hidden = true;
    $("threads-view").hidden = false;
    $("crumb").textContent = "";
    const page = await get("api/threads?offset=" + offset + "&limit=" + PAGE);
    const body = $("threads").tBodies[0];
    body.replaceChildren();
    for (const t of page.threads) {
      const link = el("a", { href: "#" + new URLSearchParams({ thread: t.thread_id }).toString(), class: "thread" }, t.thread_id);
      body.append(el("tr", {},
        el("td", {}, link),
        el("td", { class: "num" }, String(t.checkpoints)),
        el("td", { class: "num" }, String(t.namespaces)),
        el("td", { class: "num" }, String(t.last_step)),
        el("td", { title: t.last_ts || "" }, when(t.last_ts))));
    }
    if (page.threads.length === 0) body.append(el("tr", {}, el("td", { colspan: "5", class: "empty" }, "No threads.")));
    $("page-info").textContent = page.threads.length
      ? "threads " + (offset + 1) + "–" + (offset + page.threads.length) : "";
    $("newer").disabled = offset === 0;
    $("older").disabled = !page.has_more;
    $("newer").onclick = () => go({ offset: Math.max(0, offset - PAGE) });
    $("older").onclick = () => go({ offset: offset + PAGE });
  }

  // ---- one thread ----
  async function renderThread(thread, ns, cp, limit) {
    $("threads-view").hidden = true;
    $("thread-view").hidden = false;
    $("crumb").textContent = "/ " + visible(thread);
    $("thread-title").textContent = visible(thread);
    const query = new URLSearchParams();
    if (ns !== null) query.set("ns", ns);
    if (limit) query.set("limit", String(limit));
    const h = await get("api/threads/" + seg(thread) + "/history?" + query.toString());
    const select = $("ns");
    select.replaceChildren(...h.namespaces.map((n) => {
      const o = el("option", { value: n }, n === "" ? "(root graph)" : n);
      o.selected = n === h.checkpoint_ns;
      return o;
    }));
    select.onchange = () => go({ thread: thread, ns: select.value });
    // A branch starts at a fork, a first checkpoint, or a cut.
    const branches = h.checkpoints.filter((n) => n.branch_from || !n.parent_checkpoint_id || n.parent_missing).length;
    $("history-info").textContent = h.total + " checkpoints" + (branches > 1 ? ", " + branches + " branches" : "")
      + (h.has_more ? " (the newest " + h.checkpoints.length + " shown) " : "");
    if (h.has_more) {
      const more = el("button", { type: "button", id: "more" }, "Show up to " + Math.min(h.total, MAX_HISTORY));
      more.onclick = () => go({ thread: thread, ns: h.checkpoint_ns, limit: Math.min(h.total, MAX_HISTORY) });
      $("history-info").append(more);
    }
    drawTree(h, thread, cp);
    if (cp) await showCheckpoint(thread, h.checkpoint_ns, cp);
    else $("detail").replaceChildren(el("p", { class: "hint" }, "Click a checkpoint to see its state, metadata, pending writes and its diff against its parent."));
  }

  function drawTree(h, thread, selected) {
    const tree = $("tree");
    tree.replaceChildren();
    const nodes = h.checkpoints;
    const at = new Map(nodes.map((n) => [n.checkpoint_id, n]));
    const x = (n) => X0 + n.lane * LANE, y = (n) => Y0 + n.row * ROW;
    const labelX = X0 + Math.max(h.lanes, 1) * LANE + 6;
    tree.setAttribute("width", labelX + 460);
    tree.setAttribute("height", Y0 * 2 + Math.max(nodes.length - 1, 0) * ROW);
    const colour = (lane) => LANE_COLOURS[lane % LANE_COLOURS.length];
    for (const n of nodes) {
      const p = n.parent_checkpoint_id && at.get(n.parent_checkpoint_id);
      if (!p) continue;
      const [px, py, nx, ny] = [x(p), y(p), x(n), y(n)];
      const d = p.lane === n.lane ? `M${px},${py} L${nx},${ny}`
        : `M${px},${py} C${px},${py - ROW * 0.7} ${nx},${py - ROW * 0.3} ${nx},${py - ROW} L${nx},${ny}`;
      tree.append(svg("path", { d, class: "edge", stroke: colour(n.lane) }));
    }
    for (const n of nodes) {
      const g = svg("g", { class: "cp" + (n.checkpoint_id === selected ? " selected" : ""), "data-checkpoint-id": n.checkpoint_id,
        tabindex: 0, role: "button" });
      g.append(svg("rect", { class: "hit", x: 2, y: y(n) - ROW / 2 + 2, width: labelX + 456, height: ROW - 4, rx: 4 }));
      g.append(svg("circle", { cx: x(n), cy: y(n), r: 7, fill: SOURCE_COLOURS[n.source] || "#495057" }));
      const label = svg("text", { x: labelX, y: y(n) - 2 });
      // A branch's newest checkpoint (children are newer than their
      // parent, so a page of the newest checkpoints has them all).
      const tip = n.children === 0 ? "  (latest)" : "";
      label.textContent = visible("step " + n.step + " · " + n.source + " · " + when(n.ts) + tip);
      const sub = svg("text", { x: labelX, y: y(n) + 12, class: n.branch_from ? "fork" : "" });
      let second = short(n.checkpoint_id);
      if (n.branch_from) {
        const from = at.get(n.branch_from);
        second += "  ← branch from " + (from ? "step " + from.step + " " : "") + short(n.branch_from);
      } else if (n.parent_missing) {
        second += "  (parent " + short(n.parent_checkpoint_id) + " not shown)";
      }
      sub.textContent = visible(second);
      const title = svg("title");
      title.textContent = visible(n.checkpoint_id + "\n" + (n.ts || ""));
      g.append(label, sub, title);
      const open = () => go({ thread: thread, ns: n.checkpoint_ns, cp: n.checkpoint_id, ...(h.has_more ? { limit: h.checkpoints.length } : {}) });
      g.addEventListener("click", open);
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
      tree.append(g);
    }
  }

  // ---- one checkpoint ----
  async function showCheckpoint(thread, ns, id) {
    const c = await get("api/checkpoints/" + seg(thread) + "/" + seg(id) + "?ns=" + encodeURIComponent(ns));
    const facts = el("dl", { class: "facts" });
    for (const [k, v] of [["checkpoint", c.checkpoint_id], ["namespace", c.checkpoint_ns === "" ? "(root graph)" : c.checkpoint_ns],
      ["parent", c.parent_checkpoint_id || "(none)"], ["step", String(c.step)], ["source", c.source], ["time", (c.ts || "") + "  (" + when(c.ts) + ")"]]) {
      facts.append(el("dt", {}, k), el("dd", {}, v));
    }
    $("detail").replaceChildren(
      el("h2", {}, "Checkpoint"), facts,
      el("h3", {}, c.parent_checkpoint_id ? "Diff against its parent" : "Diff (no parent: every channel is new)"), diffView(c.diff),
      el("h3", {}, "State"), stateView(c.state),
      el("h3", {}, "Pending writes"), writesView(c.pending_writes),
      el("h3", {}, "Metadata"), pre({ id: "metadata" }, json(c.metadata)));
  }

  function diffView(diff) {
    const box = el("div", { id: "diff" });
    if (!diff.parent_found) box.append(el("p", { class: "empty" }, "The parent checkpoint is no longer stored (pruned): no diff."));
    else if (diff.channels.length === 0) box.append(el("p", { class: "empty" }, "No channel differs."));
    for (const d of diff.channels) {
      const item = el("div", { class: "change change-" + d.change, "data-channel": d.channel },
        el("code", { class: "channel" }, d.channel), el("span", { class: "badge" }, d.change.replace("_", " ")));
      const line = (cls, sign, v) => item.append(pre({ class: cls }, sign + " " + json(v)));
      switch (d.change) {
        case "added": line("plus", "+", d.new); break;
        case "removed": line("minus", "-", d.old); break;
        case "changed": line("minus", "-", d.old); line("plus", "+", d.new); break;
        default:
          if (d.common_items) item.append(el("p", { class: "hint" }, d.common_items + (d.common_items === 1 ? " item" : " items") + " in common, then:"));
          for (const v of d.removed_items || []) line("minus", "-", v);
          for (const v of d.added_items || []) line("plus", "+", v);
      }
      box.append(item);
    }
    return box;
  }

  function stateView(state) {
    const keys = Object.keys(state);
    if (keys.length === 0) return el("p", { class: "empty", id: "state" }, "No channel values.");
    const t = el("table", { id: "state" }, el("tr", {}, el("th", {}, "Channel"), el("th", {}, "Value")));
    for (const k of keys) t.append(el("tr", {}, el("td", {}, el("code", {}, k)), el("td", {}, pre({}, json(state[k])))));
    return t;
  }

  function writesView(writes) {
    if (writes.length === 0) return el("p", { class: "empty", id: "writes" }, "None.");
    const t = el("table", { id: "writes" }, el("tr", {}, el("th", {}, "Task"), el("th", {}, "Channel"), el("th", {}, "Value")));
    for (const w of writes) {
      t.append(el("tr", {}, el("td", { title: w.task_path || "" }, el("code", {}, short(w.task_id))),
        el("td", {}, el("code", {}, w.channel)), el("td", {}, pre({}, json(w.value)))));
    }
    return t;
  }

  window.addEventListener("hashchange", render);
  render();
})();
