// mamori console: a small dependency-free page over the query API.
"use strict";

const state = { token: sessionStorage.getItem("mamori-token"), cursor: null, view: "overview" };

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(path, method = "GET", body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body });
  if (res.status === 401) { logout(); throw new Error("unauthorized"); }
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || res.statusText);
  return res.status === 204 ? null : res.json();
}

const EXAMPLE_ALARM = {
  name: "mkdir-binary-dirs",
  description: "Directories created below binary dirs",
  filter: { rule: "Mkdir binary dirs" },
  window_secs: 300, comparison: ">=", threshold: 1, evaluate_every_secs: 60,
  actions: [{ type: "log" }],
};

function condition(c) {
  const f = Object.entries(c.filter || {}).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).join(", ") || "all events";
  return `count(${f}) over ${c.window_secs}s ${c.comparison} ${c.threshold}`;
}

async function loadAlarms() {
  const alarms = await api("/api/v1/alarms");
  const body = document.querySelector("#alarm-table tbody");
  body.replaceChildren();
  for (const a of alarms) {
    const ack = a.state === "ALARM"
      ? (a.acknowledged_ns ? el("span", { class: "acked" }, "acknowledged")
        : el("button", { class: "small", "data-ack": a.config.name, onclick: async e => { e.stopPropagation(); await api(`/api/v1/alarms/${encodeURIComponent(a.config.name)}/ack`, "POST"); loadAlarms(); } }, "Acknowledge"))
      : "";
    body.append(el("tr", { class: "clickable", onclick: () => showHistory(a.config) },
      el("td", {}, a.config.name), el("td", {}, pill(a.state)), el("td", {}, fmtTime(a.state_since_ns)),
      el("td", {}, condition(a.config)), el("td", {}, a.last_value ?? "-"), el("td", {}, ack)));
  }
  if (!alarms.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No alarms defined.")));
  const ta = document.getElementById("alarm-json");
  if (!ta.value) ta.value = JSON.stringify(EXAMPLE_ALARM, null, 2);
  updateBadge(alarms);
}

function updateBadge(alarms) {
  const firing = alarms.filter(a => a.state === "ALARM" && !a.acknowledged_ns).length;
  const badge = document.getElementById("alarm-badge");
  badge.textContent = firing; badge.hidden = firing === 0;
}

async function showHistory(cfg) {
  document.getElementById("alarm-json").value = JSON.stringify(cfg, null, 2);
  const rows = await api(`/api/v1/alarms/${encodeURIComponent(cfg.name)}/history`);
  document.getElementById("history-name").textContent = cfg.name;
  const body = document.querySelector("#history-table tbody");
  body.replaceChildren();
  for (const h of rows) body.append(el("tr", {}, el("td", {}, fmtTime(h.time_ns)), el("td", {}, pill(h.from)), el("td", {}, pill(h.to)), el("td", {}, h.value ?? "-"), el("td", {}, h.reason)));
  document.getElementById("history-card").hidden = false;
}

async function saveAlarm(e) {
  e.preventDefault();
  const msg = document.getElementById("alarm-msg");
  try {
    const cfg = JSON.parse(document.getElementById("alarm-json").value);
    await api(`/api/v1/alarms/${encodeURIComponent(cfg.name)}`, "PUT", JSON.stringify(cfg));
    msg.textContent = `Saved ${cfg.name}.`; msg.className = "";
    loadAlarms();
  } catch (err) {
    msg.textContent = `Not saved: ${err.message}`; msg.className = "error";
  }
}

async function loadTokens() {
  const err = document.getElementById("token-error");
  const body = document.querySelector("#token-table tbody");
  body.replaceChildren();
  let tokens;
  try {
    tokens = await api("/api/v1/tokens");
    err.hidden = true;
  } catch (e) {
    err.textContent = `Tokens cannot be listed: ${e.message}`; err.hidden = false;
    return;
  }
  for (const t of tokens) {
    const del = t.name === "admin" ? el("span", { class: "empty" }, "built in; rotate with replace")
      : el("button", { class: "small", "data-delete": t.name, onclick: e => confirmDelete(e.currentTarget, t.name) }, "Delete");
    body.append(el("tr", { "data-token": t.name }, el("td", {}, t.name), el("td", {}, pill(t.role)), el("td", {}, fmtTime(t.created_ns)), el("td", {}, del)));
  }
}

async function confirmDelete(button, name) {
  // Two clicks: the first asks, the second deletes.
  if (!button.classList.contains("confirm")) {
    button.classList.add("confirm"); button.textContent = `Really delete ${name}?`;
    return;
  }
  const msg = document.getElementById("token-msg");
  try {
    await api(`/api/v1/tokens/${encodeURIComponent(name)}`, "DELETE");
    msg.textContent = `Deleted ${name}.`; msg.className = "";
  } catch (e) {
    msg.textContent = `Not deleted: ${e.message}`; msg.className = "error";
  }
  msg.hidden = false;
  loadTokens();
}

async function createToken(e) {
  e.preventDefault();
  const form = new FormData(e.target);
  const msg = document.getElementById("token-msg");
  const box = document.getElementById("token-new");
  box.hidden = true;
  try {
    const t = await api("/api/v1/tokens", "POST", JSON.stringify({ name: form.get("name"), role: form.get("role"), replace: form.get("replace") === "on" }));
    document.getElementById("token-new-name").textContent = t.name;
    document.getElementById("token-new-role").textContent = t.role;
    document.getElementById("token-new-value").textContent = t.token;
    box.hidden = false; msg.hidden = true;
    e.target.reset();
    loadTokens();
  } catch (err) {
    msg.textContent = `Not created: ${err.message}`; msg.className = "error"; msg.hidden = false;
  }
}

function fmtTime(ns) {
  const d = new Date(Number(BigInt(ns) / 1000000n));
  return d.toISOString().replace("T", " ").replace("Z", "");
}

function pill(text) { return el("span", { class: `pill ${text}` }, text); }

function bars(container, buckets) {
  container.replaceChildren();
  if (!buckets.length) { container.append(el("p", { class: "empty" }, "No events.")); return; }
  const max = Math.max(...buckets.map(b => b.count));
  const list = el("div", { class: "bars" });
  for (const b of buckets) {
    const fill = el("div", { class: "fill" });
    fill.style.width = `${(100 * b.count / max).toFixed(1)}%`;
    list.append(el("div", { class: "item" }, el("span", { title: b.key }, b.key), el("div", { class: "track" }, fill), el("span", { class: "n" }, b.count)));
  }
  container.append(list);
}

function timeChart(container, buckets, sinceNs, nowNs, bucketSecs) {
  container.replaceChildren();
  const width = 1000, height = 180, pad = 24;
  const n = Math.max(1, Math.ceil(Number(nowNs - sinceNs) / 1e9 / bucketSecs));
  const counts = new Array(n).fill(0);
  for (const b of buckets) {
    const i = Math.floor(Number(BigInt(b.key) - sinceNs) / 1e9 / bucketSecs);
    if (i >= 0 && i < n) counts[i] += b.count;
  }
  const max = Math.max(1, ...counts);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const bw = (width - pad) / n;
  counts.forEach((c, i) => {
    const h = (height - pad) * c / max;
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", pad + i * bw + 1); r.setAttribute("width", Math.max(1, bw - 2));
    r.setAttribute("y", height - pad - h); r.setAttribute("height", h);
    const t = document.createElementNS(ns, "title"); t.textContent = `${c} events`; r.append(t);
    svg.append(r);
  });
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 0); label.setAttribute("y", 12); label.textContent = String(max);
  svg.append(label);
  container.append(svg);
}

async function loadOverview() {
  const nowNs = BigInt(Date.now()) * 1000000n;
  const sinceNs = nowNs - 3n * 3600n * 1000000000n;
  const q = `since=${sinceNs}`;
  const [time, rules, prio, ns] = await Promise.all([
    api(`/api/v1/aggregate?by=time&bucket=300&${q}`),
    api(`/api/v1/aggregate?by=rule&limit=10&${q}`),
    api(`/api/v1/aggregate?by=priority&${q}`),
    api(`/api/v1/aggregate?by=namespace&limit=10&${q}`),
  ]);
  timeChart(document.getElementById("chart-time"), time.buckets, sinceNs, nowNs, 300);
  document.getElementById("range-label").textContent = `last 3 hours · ${time.total} events`;
  bars(document.getElementById("top-rules"), rules.buckets);
  bars(document.getElementById("by-priority"), prio.buckets);
  bars(document.getElementById("by-namespace"), ns.buckets);
  const alarms = await api("/api/v1/alarms");
  const firing = alarms.filter(a => a.state === "ALARM");
  const box = document.getElementById("alarms-firing");
  box.replaceChildren(...(firing.length ? firing.map(a => el("div", {}, pill("ALARM"), " ", a.config.name)) : [el("p", { class: "empty" }, "None.")]));
  updateBadge(alarms);
}

function filterQuery() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(document.getElementById("filters"))) if (v) params.set(k, v);
  return params;
}

async function loadEvents(append) {
  const params = filterQuery();
  params.set("limit", "50");
  if (append && state.cursor) params.set("before", state.cursor);
  const page = await api(`/api/v1/events?${params}`);
  const body = document.querySelector("#event-table tbody");
  if (!append) body.replaceChildren();
  for (const ev of page.events) {
    body.append(el("tr", { class: "clickable", "data-id": ev.id, onclick: () => showDetail(ev.id) },
      el("td", {}, fmtTime(ev.time_ns)), el("td", {}, pill(ev.priority)), el("td", {}, ev.rule),
      el("td", {}, [ev.namespace, ev.pod].filter(Boolean).join(" / ")), el("td", { class: "output" }, ev.output)));
  }
  if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "empty" }, "No events match.")));
  state.cursor = page.next_cursor;
  document.getElementById("more").hidden = !page.next_cursor;
}

async function loadDecisions() {
  const body = document.querySelector("#decision-table tbody");
  body.replaceChildren();
  const pages = await Promise.all(["policy", "admission"].map(s => api(`/api/v1/events?source=${s}&limit=100`)));
  const events = pages.flatMap(p => p.events).sort((a, b) => (BigInt(b.time_ns) > BigInt(a.time_ns) ? 1 : -1));
  for (const ev of events) {
    body.append(el("tr", { class: "clickable", onclick: () => showDetail(ev.id) },
      el("td", {}, fmtTime(ev.time_ns)), el("td", {}, ev.status ? pill(ev.status) : ""), el("td", {}, ev.source),
      el("td", {}, ev.rule), el("td", {}, [ev.namespace, ev.pod].filter(Boolean).join(" / ")), el("td", { class: "output" }, ev.output)));
  }
  if (!events.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No runtime-policy or admission decisions yet.")));
}

function targetName(t) {
  if (typeof t === "string") return t;
  const [kind, v] = Object.entries(t)[0] || ["", {}];
  if (kind === "file") return v.path;
  if (kind === "image") return v.reference;
  if (kind === "object") return [v.kind, v.namespace, v.name].filter(Boolean).join("/");
  if (kind === "process") return `${v.container_id} pid ${v.pid}`;
  return kind;
}

function locationText(l) {
  if (!l) return "";
  let s = l.path || "";
  if (l.line) s += `:${l.line}` + (l.column ? `:${l.column}` : "");
  if (l.pointer) s += ` ${l.pointer}`;
  return s.trim();
}

async function loadFindings() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(document.getElementById("finding-filters"))) if (v) params.set(k, v);
  const [findings, reports] = await Promise.all([api(`/api/v1/findings?${params}`), api("/api/v1/reports")]);
  const body = document.querySelector("#finding-table tbody");
  body.replaceChildren();
  const order = ["critical", "high", "medium", "low", "info", "unknown"];
  findings.sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity));
  for (const f of findings) {
    body.append(el("tr", {}, el("td", {}, el("span", { class: `pill sev-${f.severity}` }, f.severity)), el("td", {}, f.rule_id),
      el("td", {}, targetName(f.target)), el("td", {}, locationText(f.location)), el("td", {}, (f.nist || []).join(" ")), el("td", {}, f.message || f.title)));
  }
  if (!findings.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No findings. Post scan reports with mamori's JSON format to /api/v1/reports.")));
  const rbody = document.querySelector("#report-table tbody");
  rbody.replaceChildren();
  for (const r of reports) {
    const counts = Object.entries(r.counts).map(([k, v]) => `${v} ${k}`).join(", ") || "none";
    rbody.append(el("tr", {}, el("td", {}, fmtTime(r.received_ns)), el("td", {}, r.tool), el("td", {}, r.targets.join(", ")), el("td", {}, counts)));
  }
}

async function loadCompliance() {
  const risks = await api("/api/v1/compliance");
  const body = document.querySelector("#compliance-table tbody");
  body.replaceChildren();
  for (const r of risks) {
    const status = r.findings === 0 ? el("span", { class: "pill OK" }, "none")
      : el("span", { class: `pill ${r.high_or_critical ? "ALARM" : "warning"}` }, `${r.findings}${r.high_or_critical ? ` (${r.high_or_critical} high+)` : ""}`);
    body.append(el("tr", { class: "clickable", onclick: () => { document.querySelector("#finding-filters [name=risk]").value = r.id; show("findings"); } },
      el("td", {}, `${r.id} / ${r.countermeasure}`), el("td", {}, r.title), el("td", {}, r.area),
      el("td", {}, r.covered_by.length ? r.covered_by.join("; ") : el("span", { class: "empty" }, "not covered yet")), el("td", {}, status)));
  }
}

async function showDetail(id) {
  const ev = await api(`/api/v1/events/${id}`);
  document.getElementById("detail-title").textContent = `${ev.rule} (${ev.priority})`;
  document.getElementById("detail-output").textContent = ev.output;
  const body = document.querySelector("#detail-fields tbody");
  body.replaceChildren();
  const rows = { time: fmtTime(ev.time_ns), source: ev.source, hostname: ev.hostname, status: ev.status, tags: (ev.tags || []).join(", "), ...ev.fields };
  for (const [k, v] of Object.entries(rows)) {
    if (v === null || v === undefined || v === "") continue;
    body.append(el("tr", {}, el("td", {}, k), el("td", {}, typeof v === "object" ? JSON.stringify(v) : v)));
  }
  document.getElementById("detail").showModal();
}

function show(view) {
  state.view = view;
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== view;
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.view === view);
  const loaders = { overview: loadOverview, events: () => loadEvents(false), decisions: loadDecisions, alarms: loadAlarms, findings: loadFindings, compliance: loadCompliance, tokens: loadTokens };
  loaders[view]().catch(err => console.error(err));
}

function logout() {
  sessionStorage.removeItem("mamori-token");
  state.token = null;
  document.getElementById("login").hidden = false;
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  for (const s of document.querySelectorAll(".view")) s.hidden = true;
}

async function login(token) {
  state.token = token;
  try {
    await api("/api/v1/aggregate?by=source&limit=1");
  } catch (err) {
    const e = document.getElementById("login-error");
    e.textContent = `Sign-in failed: ${err.message}`; e.hidden = false;
    return;
  }
  sessionStorage.setItem("mamori-token", token);
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  show(state.view);
}

document.addEventListener("DOMContentLoaded", () => {
  const dark = localStorage.getItem("mamori-theme") ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  document.documentElement.classList.toggle("dark", dark === "dark");
  document.getElementById("theme").addEventListener("click", () => {
    const isDark = document.documentElement.classList.toggle("dark");
    localStorage.setItem("mamori-theme", isDark ? "dark" : "light");
  });
  document.getElementById("login-form").addEventListener("submit", e => { e.preventDefault(); login(document.getElementById("token").value.trim()); });
  document.getElementById("logout").addEventListener("click", logout);
  document.getElementById("filters").addEventListener("submit", e => { e.preventDefault(); loadEvents(false); });
  document.getElementById("more").addEventListener("click", () => loadEvents(true));
  document.getElementById("alarm-form").addEventListener("submit", saveAlarm);
  document.getElementById("token-form").addEventListener("submit", createToken);
  document.getElementById("finding-filters").addEventListener("submit", e => { e.preventDefault(); loadFindings(); });
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.view));
  if (state.token) login(state.token); else logout();
});
