// mmagent's web page: plain JS, no build step. Runs prompts and workflows through the runs API,
// draws the plan as an SVG graph, follows each step, plays the media, asks for approvals.
"use strict";

const KEY = "mmagent.apiKey";
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem(KEY), workflows: [], runs: {}, run: null, lastEvent: null,
                plan: null, status: {}, progress: {}, outputs: {}, seconds: {}, shown: new Set() };

// -- the API ---------------------------------------------------------------------------------

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error.message || message; } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

const json = async (path, body) => (await api(path, body === undefined ? {} : {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
})).json();

async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("purpose", "user_data");
  return (await api("/v1/files", { method: "POST", body: form })).json();
}

// Server-sent events over fetch (EventSource cannot send the Authorization header).
async function* sse(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      const message = { event: "message", data: [], id: null };
      for (const line of block.split(/\r?\n/)) {
        if (!line || line.startsWith(":")) continue;
        const at = line.indexOf(":");
        const field = at < 0 ? line : line.slice(0, at);
        const text = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (field === "data") message.data.push(text);
        else if (field === "event") message.event = text;
        else if (field === "id") message.id = text;
      }
      if (message.data.length) yield { ...message, data: message.data.join("\n") };
    }
  }
}

// -- the key ---------------------------------------------------------------------------------

async function signIn(key) {
  state.key = key;
  const models = await json("/v1/models");  // 401 for a wrong key
  sessionStorage.setItem(KEY, key);
  state.workflows = (await json("/v1/workflows")).data;
  $("key-form").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = `${models.data.length} models`;
  fillWorkflows();
  await loadRuns();
}

// -- the run list: the key's runs as the server keeps them, so they survive a reload ------------

const ACTIVE = ["queued", "running", "awaiting_approval"];

async function loadRuns() {
  const runs = (await json("/v1/runs")).data;
  state.runs = Object.fromEntries(runs.map((r) => [r.id, r]));
  $("runs").replaceChildren(...runs.map((r) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.run = r.id;
    button.dataset.status = r.status;
    button.classList.toggle("current", r.id === state.run);
    const what = r.workflow ? `workflow ${r.workflow}` : (r.prompt || "");
    const when = new Date(r.created_at * 1000).toLocaleTimeString();
    const small = document.createElement("span");
    small.className = "when";
    small.textContent = ` ${when} · ${r.status.replace("_", " ")}`;
    button.append(what, small);
    button.title = what;
    button.addEventListener("click", () => openRun(r.id));
    li.append(button);
    return li;
  }));
}

async function openRun(runId) {
  resetRun();
  state.run = runId;
  try {
    await follow(runId);  // a finished run's events replay from the start
  } catch (e) {
    $("run-error").textContent = e.message;
  }
}

async function cancelRun() {
  try {
    await json(`/v1/runs/${state.run}/cancel`, {});
    await follow(state.run);
  } catch (e) {
    $("run-error").textContent = e.message;
  }
}

async function rerun() {
  const info = state.runs[state.run] || await json(`/v1/runs/${state.run}`);
  if (!info.prompt) return;
  resetRun();
  await start({ prompt: info.prompt }, $("rerun"));
}

function showRunButtons(info) {
  $("cancel").hidden = !ACTIVE.includes(info.status);
  $("rerun").hidden = ACTIVE.includes(info.status) || !info.prompt;
}

function signOut() {
  sessionStorage.removeItem(KEY);
  location.reload();
}

// -- the plan graph: columns by dependency depth, SVG drawn here (no library) ------------------

const REF = /^\$([A-Za-z_][\w-]*)\.([\w-]+)$/;

function refs(value, out = []) {
  if (typeof value === "string") {
    const m = REF.exec(value);
    if (m) out.push({ source: m[1], field: m[2] });
  } else if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => refs(v, out));
  return out;
}

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function drawPlan() {
  const plan = state.plan;
  const box = $("plan");
  box.replaceChildren();
  if (!plan || !plan.tasks.length) return;
  const ids = new Set(plan.tasks.map((t) => t.id));
  const deps = {}, inputs = new Set();
  for (const t of plan.tasks) {
    deps[t.id] = new Set();
    for (const r of refs(t.args)) {
      if (r.source === "input") inputs.add(r.field);
      else if (ids.has(r.source)) deps[t.id].add(r.source);
    }
  }
  const depth = {};
  const depthOf = (id) => depth[id] ?? (depth[id] = Math.max(0, ...[...deps[id]].map((d) => depthOf(d) + 1)));
  plan.tasks.forEach((t) => depthOf(t.id));
  const shift = inputs.size ? 1 : 0;
  const columns = [];
  const place = {};
  [...inputs].forEach((name, row) => { place[`$input.${name}`] = { col: 0, row }; });
  if (inputs.size) columns[0] = inputs.size;
  for (const t of plan.tasks) {
    const col = depth[t.id] + shift;
    columns[col] = (columns[col] || 0) + 1;
    place[t.id] = { col, row: columns[col] - 1 };
  }
  const W = 170, H = 66, GX = 60, GY = 22;
  const xy = (p) => ({ x: 10 + p.col * (W + GX), y: 10 + p.row * (H + GY) });
  const width = 20 + columns.length * (W + GX) - GX;
  const height = 20 + Math.max(...columns.map((n) => n || 0)) * (H + GY) - GY;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "plan graph" });
  root.style.maxWidth = `${width}px`;  // drawn at its own size at most: one step is no giant box
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
                                 markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9aa4b8" }));
  defs.append(marker);
  root.append(defs);
  const edge = (from, to) => {
    const a = xy(from), b = xy(to);
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
  };
  for (const t of plan.tasks) {
    for (const d of deps[t.id]) edge(place[d], place[t.id]);
    for (const r of refs(t.args)) if (r.source === "input") edge(place[`$input.${r.field}`], place[t.id]);
  }
  for (const name of inputs) {
    const { x, y } = xy(place[`$input.${name}`]);
    const g = svg("g", { class: "input" });
    g.append(svg("rect", { x, y, width: W, height: H, rx: 26 }));
    g.append(svg("text", { x: x + 14, y: y + 30 }, `input ${name}`));
    root.append(g);
  }
  for (const t of plan.tasks) {
    const { x, y } = xy(place[t.id]);
    const status = state.status[t.id] || "pending";
    const g = svg("g", { class: `node ${status}`, "data-task": t.id, "data-status": status });
    g.append(svg("rect", { class: "box", x, y, width: W, height: H, rx: 6 }));
    g.append(svg("text", { x: x + 10, y: y + 20 }, `${t.id} · ${t.tool}`));
    const took = state.seconds[t.id];
    g.append(svg("text", { class: "state", x: x + 10, y: y + 38 },
                 took === undefined ? status : `${status} · ${took.toFixed(2)} s`));
    const said = outputText(state.outputs[t.id]);
    if (said) {
      const out = svg("text", { class: "output", x: x + 10, y: y + 56 },
                      said.length > 24 ? `${said.slice(0, 23)}…` : said);
      out.append(svg("title", {}, said));
      g.append(out);
      g.setAttribute("data-output", said);
    }
    const p = state.progress[t.id];
    if (p) g.setAttribute("data-progress", `${p.step}/${p.total}`);
    if (p && status === "running") {
      g.append(svg("rect", { class: "bar", x, y: y + H - 4, height: 4,
                             width: Math.round((W * p.step) / Math.max(1, p.total)) }));
    }
    root.append(g);
  }
  box.append(root);
}

// -- one run's events ------------------------------------------------------------------------

// a step's output in words: its first text field (a caption, an answer, a transcript)
function outputText(output) {
  if (!output || typeof output !== "object") return "";
  const text = Object.values(output).find((v) => typeof v === "string" && v.trim());
  return text ? text.trim() : "";
}

function log(text) {
  const li = document.createElement("li");
  li.textContent = text;
  $("log").append(li);
  li.scrollIntoView({ block: "nearest" });
}

function setStatus(id, status) {
  state.status[id] = status;
  drawPlan();
}

function onEvent(ev) {
  switch (ev.type) {
    case "route": log(`route: ${ev.route} (${ev.reason})`); break;
    case "plan": case "replanned":
      state.plan = ev.plan;
      drawPlan();
      log(ev.type === "plan" ? `plan: ${ev.plan.tasks.length} steps` : `re-planned after ${ev.failed.join(", ")} failed`);
      break;
    case "replanning":
      if (!ev.elapsed_s) log(`re-planning after ${ev.failed.join(", ")} failed`);
      break;
    case "replan_failed": log(`re-planning gave up after ${ev.elapsed_s.toFixed(1)} s: ${ev.message}`); break;
    case "run_started": log(`run ${ev.run_id}${ev.resumed ? " resumed" : ""}`); break;
    case "task_started": setStatus(ev.task_id, "running"); log(`${ev.task_id} ${ev.tool} started`); break;
    case "task_progress":
      state.progress[ev.task_id] = ev;
      drawPlan();
      break;
    case "task_finished":
      state.outputs[ev.task_id] = ev.output;
      state.seconds[ev.task_id] = ev.seconds;
      setStatus(ev.task_id, ev.cached ? "cached" : "done");
      log(`${ev.task_id} ${ev.tool} ${ev.cached ? "served from cache" : `finished in ${ev.seconds.toFixed(2)} s`}`);
      break;
    case "task_failed": setStatus(ev.task_id, "failed"); log(`${ev.task_id} ${ev.tool} failed: ${ev.message}`); break;
    case "task_retrying": log(`${ev.task_id} retrying (attempt ${ev.attempt} failed: ${ev.error})`); break;
    case "approval_requested":
      ev.tasks.forEach((t) => { state.status[t.task_id] = "waiting"; });
      drawPlan();
      log(`waiting for approval: ${ev.tasks.map((t) => `${t.task_id} (${t.tool})`).join(", ")}`);
      break;
    case "artifact": showArtifact(ev.artifact, ev.task_id, ev.field); break;
    case "answer": $("answer").textContent = ev.text; break;
    default: break;
  }
}

async function showArtifact(ref, task, field) {
  if (state.shown.has(ref.id)) return;
  state.shown.add(ref.id);
  const card = document.createElement("figure");
  card.className = "artifact";
  card.dataset.kind = ref.kind;
  card.dataset.id = ref.id;
  $("artifacts").append(card);
  // the download needs the key, so the bytes are fetched and shown from a blob URL
  const blob = await (await api(`/v1/artifacts/${ref.id}`)).blob();
  const url = URL.createObjectURL(blob);
  let media;
  if (ref.kind === "image") {
    media = document.createElement("img");
    media.alt = `${task}.${field}`;
  } else {
    media = document.createElement(ref.kind === "audio" ? "audio" : "video");
    media.controls = true;
    media.autoplay = true;
  }
  media.src = url;
  const caption = document.createElement("figcaption");
  const link = document.createElement("a");
  const ext = { "image/png": "png", "audio/wav": "wav", "video/mp4": "mp4" }[ref.mime] || ref.mime.split("/")[1];
  link.href = url;
  link.download = `${task}-${field}.${ext}`;
  link.textContent = `Download ${link.download}`;
  caption.append(`${task} · ${ref.kind} · `, link);
  card.append(media, caption);
  if (ref.kind !== "image") media.play().catch(() => { /* needs a click: the controls are there */ });
}

function resetRun() {
  Object.assign(state, { run: null, lastEvent: null, plan: null, status: {}, progress: {},
                         outputs: {}, seconds: {}, shown: new Set() });
  for (const id of ["plan", "log", "answer", "artifacts"]) $(id).replaceChildren();
  $("run-error").textContent = "";
  $("approval").hidden = true;
  $("cancel").hidden = true;
  $("rerun").hidden = true;
  $("run-status").textContent = "";
  $("run").hidden = false;
}

async function follow(runId) {
  $("run-status").textContent = "running";
  showRunButtons({ status: "running" });
  const headers = state.lastEvent ? { "Last-Event-ID": state.lastEvent } : {};
  const response = await api(`/v1/runs/${runId}/events`, { headers });
  for await (const message of sse(response)) {
    if (message.id) state.lastEvent = message.id;
    if (message.event === "mmagent") onEvent(JSON.parse(message.data));
    else if (message.event === "end") break;
  }
  const info = await json(`/v1/runs/${runId}`);
  $("run-status").textContent = info.status.replace("_", " ");
  showRunButtons(info);
  loadRuns().catch(() => { /* the list refreshes on the next run */ });
  if (info.answer) $("answer").textContent = info.answer;
  if (info.error) $("run-error").textContent = info.error.message;
  for (const a of info.artifacts || []) showArtifact(a, a.task, a.field);
  if (info.status === "awaiting_approval") askApproval(info);
  else if (!["queued", "running"].includes(info.status) && state.plan) {
    // the run is over: a step that never reported (rejected, or after a failure) did not run
    for (const t of state.plan.tasks) {
      if (["pending", "waiting", "running", undefined].includes(state.status[t.id]) &&
          !(info.outputs && t.id in info.outputs)) state.status[t.id] = "skipped";
    }
    drawPlan();
  }
}

function askApproval(info) {
  const tasks = info.pending_approval || [];
  $("approval-text").textContent = "Run these steps? " +
    tasks.map((t) => `${t.task_id} (${t.tool})${t.reason ? ": " + t.reason : ""}`).join("; ");
  $("approval").hidden = false;
}

async function decide(yes) {
  $("approval").hidden = true;
  try {
    await json(`/v1/runs/${state.run}/approve`, { approve: yes });
    await follow(state.run);
  } catch (e) {
    $("run-error").textContent = e.message;
  }
}

async function start(body, button) {
  button.disabled = true;
  try {
    const run = await json("/v1/runs", body);
    state.run = run.id;
    loadRuns().catch(() => { /* the list refreshes when the run ends */ });
    await follow(run.id);
  } catch (e) {
    $("run-error").textContent = e.message;
    $("run-status").textContent = "failed";
  } finally {
    button.disabled = false;
  }
}

// -- the forms -------------------------------------------------------------------------------

async function runPrompt(event) {
  event.preventDefault();
  resetRun();
  const body = { prompt: $("prompt").value, images: [], audio: [], video: [] };
  try {
    for (const file of $("files").files) {
      const stored = await upload(file);
      body[stored.kind === "image" ? "images" : stored.kind].push(`artifact://${stored.id}`);
    }
  } catch (e) {
    $("run-error").textContent = `The upload failed: ${e.message}`;
    $("run-status").textContent = "failed";
    return;
  }
  await start(body, $("send"));
}

function fillWorkflows() {
  const select = $("workflow");
  select.replaceChildren(...state.workflows.map((w) => new Option(w.name, w.name)));
  showWorkflowInputs();
}

const MEDIA = ["image", "audio", "video"];
const baseType = (type) => type.replace(/^list\[(.*)\]$/, "$1");

function showWorkflowInputs() {
  const wf = state.workflows.find((w) => w.name === $("workflow").value);
  const box = $("workflow-inputs");
  box.replaceChildren();
  if (!wf) return;
  $("workflow-description").textContent = wf.description;
  for (const [name, spec] of Object.entries(wf.inputs)) {
    const label = document.createElement("label");
    label.className = "field";
    const base = baseType(spec.type);
    const input = document.createElement("input");
    input.name = name;
    input.dataset.type = spec.type;
    if (MEDIA.includes(base)) {
      input.type = "file";
      input.accept = `${base}/*`;
      input.multiple = spec.type.startsWith("list[");
    } else if (spec.type === "boolean") {
      input.type = "checkbox";
      input.checked = Boolean(spec.default);
    } else {
      input.type = ["number", "integer"].includes(spec.type) ? "number" : "text";
      if (spec.default !== null && spec.default !== undefined) input.value = spec.default;
    }
    input.required = spec.required && input.type !== "checkbox";
    label.append(`${name} (${spec.type}${spec.required ? "" : ", optional"})`, input);
    if (spec.description) label.title = spec.description;
    box.append(label);
  }
}

async function runWorkflow(event) {
  event.preventDefault();
  resetRun();
  const inputs = {};
  try {
    for (const input of $("workflow-inputs").querySelectorAll("input")) {
      const type = input.dataset.type;
      if (input.type === "file") {
        const ids = [];
        for (const file of input.files) ids.push(`artifact://${(await upload(file)).id}`);
        if (ids.length) inputs[input.name] = type.startsWith("list[") ? ids : ids[0];
      } else if (input.type === "checkbox") inputs[input.name] = input.checked;
      else if (input.value !== "") {
        inputs[input.name] = input.type === "number" ? Number(input.value)
          : type === "json" || type.startsWith("list[") ? JSON.parse(input.value) : input.value;
      }
    }
  } catch (e) {
    $("run-error").textContent = e.message;
    return;
  }
  await start({ workflow: $("workflow").value, inputs }, $("run-workflow"));
}

function showTab(name) {
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.tab === name));
  $("chat-form").hidden = name !== "chat";
  $("workflow-form").hidden = name !== "workflow";
}

// -- start -----------------------------------------------------------------------------------

$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("key-error").textContent = "";
  try {
    await signIn($("api-key").value.trim());
  } catch (e) {
    state.key = null;
    $("key-error").textContent = e.status === 401 ? "That key was refused." : e.message;
  }
});
$("sign-out").addEventListener("click", signOut);
$("chat-form").addEventListener("submit", runPrompt);
$("workflow-form").addEventListener("submit", runWorkflow);
$("workflow").addEventListener("change", showWorkflowInputs);
$("approve").addEventListener("click", () => decide(true));
$("cancel").addEventListener("click", cancelRun);
$("rerun").addEventListener("click", rerun);
$("refresh-runs").addEventListener("click", () => loadRuns().catch((e) => { $("run-error").textContent = e.message; }));
$("reject").addEventListener("click", () => decide(false));
document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => showTab(t.dataset.tab)));

if (state.key) signIn(state.key).catch(() => { sessionStorage.removeItem(KEY); $("key-form").hidden = false; });
else $("key-form").hidden = false;
