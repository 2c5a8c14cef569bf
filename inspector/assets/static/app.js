// The memory inspector's page. Every value from the server is put into
// the page as text (textContent, createTextNode), never as markup:
// memories are what users said.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const api = "/memproxy/ui/api";
const pageSize = 20;

// el makes an element with attributes and children; strings become text.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick") e.addEventListener("click", v);
    else if (k === "className") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function $(id) { return document.getElementById(id); }

function status(msg, isError) {
  const s = $("status");
  s.textContent = msg || "";
  s.className = isError ? "error" : "";
}

// call sends a request to the inspector's API; a change carries the CSRF
// token.
async function call(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(api + path, init);
  if (resp.status === 401) { location.reload(); throw new Error("logged out"); }
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== undefined && v !== null) q.set(k, v);
  return q.toString();
}

function when(t) { return t ? new Date(t).toLocaleString() : ""; }

// Dialogs.
function confirmDelete(text, expect) {
  return new Promise((resolve) => {
    const d = $("confirm-dialog"), typed = $("confirm-typed"), yes = $("confirm-yes");
    $("confirm-text").textContent = text;
    $("confirm-typed-label").hidden = !expect;
    $("confirm-expect").textContent = expect || "";
    typed.value = "";
    yes.disabled = !!expect;
    typed.oninput = () => { yes.disabled = typed.value !== expect; };
    const done = (ok) => { d.close(); resolve(ok); };
    yes.onclick = () => done(true);
    $("confirm-no").onclick = () => done(false);
    d.showModal();
    if (expect) typed.focus();
  });
}

async function showHistory(id) {
  const data = await call("GET", "/memories/" + encodeURIComponent(id) + "/history");
  $("history-id").textContent = id;
  const body = $("history").tBodies[0];
  body.replaceChildren(...data.history.map((r) =>
    el("tr", {}, el("td", {}, when(r.created_at)), el("td", {}, r.event), el("td", {}, r.old_memory || ""),
      el("td", {}, r.new_memory || ""), el("td", {}, r.actor_id || ""))));
  $("history-close").onclick = () => $("history-dialog").close();
  $("history-dialog").showModal();
}

function editMemory(m, onSaved) {
  const d = $("edit-dialog");
  $("edit-text").value = m.memory;
  $("edit-cancel").onclick = () => d.close();
  $("edit-save").onclick = async () => {
    try {
      const updated = await call("PUT", "/memories/" + encodeURIComponent(m.id), { memory: $("edit-text").value });
      d.close();
      status("Memory updated.");
      onSaved(updated);
    } catch (e) { status(e.message, true); }
  };
  d.showModal();
}

// memoryItem shows one memory with its actions; onChange runs after an
// edit or a delete.
function memoryItem(m, onChange) {
  const scope = [m.user_id && "user " + m.user_id, m.agent_id && "agent " + m.agent_id, m.run_id && "run " + m.run_id,
    m.metadata && m.metadata.agent_id && "about agent " + m.metadata.agent_id].filter(Boolean).join(" · ");
  return el("li", { className: "memory", "data-id": m.id },
    el("span", { className: "memory-text" }, m.memory),
    el("span", { className: "meta" }, scope + " · " + when(m.updated_at)),
    el("span", { className: "actions" },
      el("button", { type: "button", className: "history", onclick: () => showHistory(m.id).catch((e) => status(e.message, true)) }, "History"),
      el("button", { type: "button", className: "edit", onclick: () => editMemory(m, onChange) }, "Edit"),
      el("button", { type: "button", className: "delete danger", onclick: async () => {
        if (!(await confirmDelete("Delete this memory and its history?\n\n" + m.memory))) return;
        try {
          await call("DELETE", "/memories/" + encodeURIComponent(m.id));
          status("Memory deleted.");
          onChange();
        } catch (e) { status(e.message, true); }
      } }, "Delete")));
}

// Entities.
let entityOffset = 0;
async function loadEntities() {
  const data = await call("GET", "/entities?" + query({
    q: $("entity-q").value, kind: $("entity-kind").value, offset: entityOffset, limit: pageSize }));
  const c = data.counts;
  $("entity-counts").textContent = `${c.user || 0} users · ${c.agent || 0} agents · ${c.run || 0} runs · ${c.app || 0} apps`;
  $("entities").tBodies[0].replaceChildren(...data.entities.map((e) =>
    el("tr", { "data-kind": e.kind, "data-name": e.name },
      el("td", {}, e.kind),
      el("td", {}, e.kind === "user" ? el("a", { href: "#user=" + encodeURIComponent(e.name), className: "entity-link" }, e.name) : e.name),
      el("td", { className: "num" }, e.memories), el("td", {}, when(e.updated_at)))));
  pager($("entity-pager"), data.offset, pageSize, data.total, (o) => { entityOffset = o; loadEntities(); });
}

function pager(box, offset, limit, total, go) {
  const last = Math.min(offset + limit, total);
  box.replaceChildren(
    el("button", { type: "button", className: "newer", onclick: () => go(Math.max(0, offset - limit)) }, "← newer"),
    el("span", {}, total ? `${offset + 1}–${last} of ${total}` : "none"),
    el("button", { type: "button", className: "older", onclick: () => go(offset + limit) }, "older →"));
  box.firstChild.disabled = offset === 0;
  box.lastChild.disabled = last >= total;
}

// One user's memories, layer by layer.
let currentUser = "";
function layerTitle(s) {
  if (s.layer === "persona") return "Persona of " + s.agent_id;
  if (s.layer === "user") return "Facts about " + s.user_id;
  return "Relationship of " + s.user_id + " with " + s.agent_id;
}

function renderSection(box, s) {
  const list = el("ul", { className: "memories" });
  const reload = () => loadSection(box, s, s.offset);
  list.replaceChildren(...s.memories.map((m) => memoryItem(m, reload)));
  const p = el("div", { className: "pager" });
  pager(p, s.offset, s.limit, s.total, (o) => loadSection(box, s, o));
  box.replaceChildren(el("h3", {}, layerTitle(s), " ", el("span", { className: "count" }, `(${s.total})`)), list, p);
}

async function loadSection(box, s, offset) {
  try {
    const page = await call("GET", "/layer?" + query({ layer: s.layer, user_id: s.user_id, agent_id: s.agent_id, offset, limit: pageSize }));
    renderSection(box, page);
  } catch (e) { status(e.message, true); }
}

async function loadUser(user, agent) {
  currentUser = user;
  $("user-name").textContent = user;
  const data = await call("GET", "/users/" + encodeURIComponent(user) + "?" + query({ agent_id: agent }));
  $("layers").replaceChildren(...data.sections.map((s) => {
    const box = el("section", { className: "layer layer-" + s.layer, "data-layer": s.layer, "data-agent": s.agent_id || "" });
    renderSection(box, s);
    return box;
  }));
}

// Search.
async function runSearch(ev) {
  ev.preventDefault();
  const data = await call("GET", "/search?" + query({
    q: $("search-q").value, user_id: $("search-user").value, agent_id: $("search-agent").value, top_k: $("search-topk").value }));
  $("search-results").tBodies[0].replaceChildren(...data.results.map((m) =>
    el("tr", { className: "hit", "data-id": m.id },
      el("td", { className: "num score" }, m.score.toFixed(3)), el("td", { className: "memory-text" }, m.memory),
      el("td", {}, m.user_id || ""), el("td", {}, m.agent_id || ""),
      el("td", {}, el("button", { type: "button", className: "history", onclick: () => showHistory(m.id).catch((e) => status(e.message, true)) }, "History")))));
  status(data.results.length + " results.");
}

// What would be injected.
async function runInject(ev) {
  ev.preventDefault();
  const e = await call("GET", "/explain?" + query({
    user_id: $("inject-user").value, agent_id: $("inject-agent").value, message: $("inject-message").value }));
  $("inject-rule").textContent = e.rule;
  $("inject-tokens").textContent = e.block ? `${e.block_tokens} tokens of a budget of ${e.recall.token_budget}` : "nothing would be injected";
  $("inject-error").textContent = e.recall_error || "";
  const layers = [];
  for (const name of ["persona", "user", "relationship", "run"]) {
    const hits = (e.recalled || {})[name] || [];
    const conf = e.recall.layers[name];
    layers.push(el("section", { className: "inject-layer", "data-layer": name },
      el("h4", {}, name, " ", el("span", { className: "meta" }, conf.enabled ? `top ${conf.top_k}, min score ${conf.min_score}` : "off")),
      el("ul", {}, ...hits.map((h) => el("li", {}, el("span", { className: "score" }, h.score.toFixed(3)), " ", h.memory)))));
  }
  $("inject-layers").replaceChildren(...layers);
  $("inject-block").textContent = e.block || "(no block: nothing recalled)";
  $("inject-result").hidden = false;
}

// Outbox.
async function loadOutbox() {
  const o = await call("GET", "/outbox");
  $("outbox-stats").textContent = `${o.pending} pending · ${o.in_flight} in flight · ${o.dead} dead letters`;
  $("dead-letters").tBodies[0].replaceChildren(...o.dead_letters.map((d) =>
    el("tr", { "data-seq": d.seq },
      el("td", {}, d.seq), el("td", {}, d.user_id), el("td", {}, d.agent_id || ""), el("td", { className: "num" }, d.attempts),
      el("td", {}, d.last_error), el("td", {}, when(d.queued)),
      el("td", {},
        el("button", { type: "button", className: "retry", onclick: () => deadAction("POST", d.seq, "/retry") }, "Retry"),
        el("button", { type: "button", className: "drop danger", onclick: async () => {
          if (await confirmDelete(`Drop dead letter ${d.seq}? The turn will never be learned.`)) deadAction("DELETE", d.seq, "");
        } }, "Drop")))));
}

async function deadAction(method, seq, suffix) {
  try {
    await call(method, "/outbox/dead/" + seq + suffix);
    status("Dead letter " + seq + (suffix ? " queued again." : " dropped."));
    loadOutbox();
  } catch (e) { status(e.message, true); }
}

// Views, chosen by the location's hash: #entities, #user=ID, #search,
// #inject, #outbox.
function route() {
  const h = decodeURIComponent(location.hash.slice(1)) || "entities";
  const [view, arg] = h.startsWith("user=") ? ["user", h.slice(5)] : [h, ""];
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + view;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === view);
  status("");
  const load = { entities: loadEntities, user: () => loadUser(arg), outbox: loadOutbox }[view];
  if (load) load().catch((e) => status(e.message, true));
}

function debounce(fn, ms) {
  let t;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}

$("entity-q").addEventListener("input", debounce(() => { entityOffset = 0; loadEntities().catch((e) => status(e.message, true)); }, 200));
$("entity-kind").addEventListener("change", () => { entityOffset = 0; loadEntities().catch((e) => status(e.message, true)); });
$("user-agent-go").addEventListener("click", () => loadUser(currentUser, $("user-agent").value).catch((e) => status(e.message, true)));
$("user-delete").addEventListener("click", async () => {
  const user = currentUser;
  if (!(await confirmDelete(`Delete every memory of ${user}, with its history? This cannot be undone.`, user))) return;
  try {
    const r = await call("DELETE", "/users/" + encodeURIComponent(user), { confirm: user });
    status(`${r.deleted} memories of ${user} deleted.`);
    location.hash = "#entities";
  } catch (e) { status(e.message, true); }
});
$("search-form").addEventListener("submit", (ev) => runSearch(ev).catch((e) => status(e.message, true)));
$("inject-form").addEventListener("submit", (ev) => runInject(ev).catch((e) => status(e.message, true)));
window.addEventListener("hashchange", route);
route();
