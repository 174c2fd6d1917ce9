// mmagent's web page: plain JS, no build step. Runs prompts and workflows through the runs API,
// draws the plan as a graph whose boxes show what each step produced, plays the media, previews
// uploads, asks for approvals.
"use strict";

const KEY = "mmagent.apiKey";
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem(KEY), workflows: [], runs: {}, run: null, lastEvent: null,
                plan: null, status: {}, progress: {}, outputs: {}, seconds: {}, failures: {}, media: {},
                blobs: {}, shown: new Set(), nodes: {}, edges: [], observer: null };

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

// a file the server refuses is reported with its name and the server's reason
async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("purpose", "user_data");
  try {
    return await (await api("/v1/files", { method: "POST", body: form })).json();
  } catch (e) {
    throw new Error(`The upload of ${file.name} failed: ${e.message}`);
  }
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

const ACTIVE = ["queued", "running", "awaiting_approval", "awaiting_client"];

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

// -- the plan graph: one row of boxes per dependency depth (a wide row wraps), SVG edges -------

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
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// the plan's inputs, its tasks in rows by dependency depth, and its edges (from, to)
function planLayers(plan) {
  const ids = new Set(plan.tasks.map((t) => t.id));
  const deps = {}, inputs = new Set(), edges = [];
  for (const t of plan.tasks) {
    deps[t.id] = new Set();
    for (const r of refs(t.args)) {
      if (r.source === "input") {
        inputs.add(r.field);
        edges.push([`$input.${r.field}`, t.id]);
      } else if (ids.has(r.source) && !deps[t.id].has(r.source)) {
        deps[t.id].add(r.source);
        edges.push([r.source, t.id]);
      }
    }
  }
  const depth = {};
  const depthOf = (id) => depth[id] ?? (depth[id] = Math.max(0, ...[...deps[id]].map((d) => depthOf(d) + 1)));
  const layers = [];
  for (const t of plan.tasks) (layers[depthOf(t.id)] ||= []).push(t);
  return { inputs: [...inputs], layers: layers.filter(Boolean), edges };
}

function drawPlan() {
  if (state.observer) state.observer.disconnect();
  state.nodes = {};
  $("plan").replaceChildren();
  const plan = state.plan;
  if (!plan || !plan.tasks.length) return;
  const { inputs, layers, edges } = planLayers(plan);
  const graph = el("div", { class: "graph", role: "group", "aria-label": "plan graph" });
  graph.append(svg("svg", { class: "edges", "aria-hidden": "true" }));
  const row = (nodes) => { const r = el("div", { class: "layer" }); r.append(...nodes); return r; };
  if (inputs.length) graph.append(row(inputs.map(inputNode)));
  for (const tasks of layers) graph.append(row(tasks.map(taskNode)));
  $("plan").append(graph);
  state.edges = edges;
  plan.tasks.forEach((t) => updateNode(t.id));
  // a box grows as its outputs arrive and rows re-wrap with the width: the edges follow
  state.observer = new ResizeObserver(() => requestAnimationFrame(drawEdges));
  state.observer.observe(graph);
  Object.values(state.nodes).forEach((n) => state.observer.observe(n));
  drawEdges();
}

function inputNode(name) {
  const node = el("div", { class: "node input", "data-input": name }, `input ${name}`);
  state.nodes[`$input.${name}`] = node;
  return node;
}

function taskNode(t) {
  const node = el("article", { class: "node", "data-task": t.id });
  const label = el("div", { class: "label", title: `${t.id} · ${t.tool}` }, `${t.id} · ${t.tool}`);
  const output = el("p", { class: "output" });
  output.addEventListener("click", () => {
    output.classList.toggle("open");
    updateNode(t.id);
  });
  node.append(label, el("div", { class: "state" }), el("div", { class: "bar" }), output,
              el("p", { class: "why" }), el("div", { class: "media" }));
  state.nodes[t.id] = node;
  for (const { ref, field } of state.media[t.id] || []) addNodeMedia(t.id, ref, field);
  return node;
}

function drawEdges() {
  const graph = $("plan").querySelector(".graph");
  if (!graph) return;
  const root = graph.querySelector("svg.edges");
  const origin = graph.getBoundingClientRect();
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
                                 markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9aa4b8" }));
  defs.append(marker);
  root.replaceChildren(defs);
  for (const [from, to] of state.edges) {
    const a = state.nodes[from].getBoundingClientRect(), b = state.nodes[to].getBoundingClientRect();
    const x1 = a.left + a.width / 2 - origin.left, y1 = a.bottom - origin.top;
    const x2 = b.left + b.width / 2 - origin.left, y2 = b.top - origin.top, my = (y1 + y2) / 2;
    root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}` }));
  }
}

// -- a step's box: its state, time, progress, what it said or why it failed, and its media -----

const SHORT = 90;  // characters of a step's text shown before a click opens the whole of it

function updateNode(id) {
  const node = state.nodes[id];
  if (!node) return;
  const status = state.status[id] || "pending";
  node.className = `node ${status}`;
  node.dataset.status = status;
  const took = state.seconds[id];
  node.querySelector(".state").textContent = took === undefined ? status : `${status} · ${took.toFixed(2)} s`;
  const p = state.progress[id];
  const bar = node.querySelector(".bar");
  if (p) {
    node.dataset.progress = `${p.step}/${p.total}`;
    bar.style.setProperty("--done", `${(100 * p.step) / Math.max(1, p.total)}%`);
  }
  bar.hidden = !(p && status === "running");
  showOutputText(node, outputText(state.outputs[id]));
  const why = node.querySelector(".why");
  why.textContent = state.failures[id] ? failureReason(state.failures[id]) : "";
  why.hidden = !state.failures[id];
}

function showOutputText(node, said) {
  const p = node.querySelector(".output");
  p.hidden = !said;
  if (!said) {
    delete node.dataset.output;
    return;
  }
  node.dataset.output = said;
  p.title = said;
  const long = said.length > SHORT;
  p.classList.toggle("long", long);
  p.textContent = long && !p.classList.contains("open") ? `${said.slice(0, SHORT - 1)}…` : said;
}

// a step's output in words: its first text field (a caption, an answer, a transcript); a
// step over a list ("each") has one text per item, numbered
function outputText(output) {
  if (!output || typeof output !== "object") return "";
  for (const v of Object.values(output)) {
    if (typeof v === "string" && v.trim()) return v.trim();
    if (Array.isArray(v) && v.length && v.every((x) => typeof x === "string")) {
      return v.map((x, n) => `${n + 1}. ${x.trim()}`).join(" ");
    }
  }
  return "";
}

// the executor says "task 't1' (tool) failed: why"; the box already names the task
const failureReason = (message) => message.replace(/^task '[^']*' \([^)]*\) failed: /, "");

// the download needs the key, so the bytes are fetched once and shown from a blob URL
function blobURL(id) {
  state.blobs[id] ||= api(`/v1/artifacts/${id}`).then((r) => r.blob()).then((b) => URL.createObjectURL(b));
  return state.blobs[id];
}

async function addNodeMedia(task, ref, field) {
  const node = state.nodes[task];
  if (!node || node.querySelector(`.media [data-id="${ref.id}"]`)) return;
  const item = el("div", { class: "thumb", "data-id": ref.id, "data-kind": ref.kind });
  node.querySelector(".media").append(item);  // at once: a replayed event finds it there
  let url;
  try {
    url = await blobURL(ref.id);
  } catch (e) {
    item.textContent = `${field}: ${e.message}`;
    return;
  }
  if (ref.kind === "image") {
    const link = el("a", { href: url, target: "_blank", title: `${task}.${field}: open full size` });
    link.append(el("img", { src: url, alt: `${task}.${field}` }));
    item.append(link);
  } else {
    const media = el(ref.kind === "audio" ? "audio" : "video", { src: url, preload: "metadata",
                                                                 title: `${task}.${field}` });
    media.controls = true;
    item.append(media);
  }
}

// -- one run's events ------------------------------------------------------------------------

function log(text) {
  const li = document.createElement("li");
  li.textContent = text;
  $("log").append(li);
  li.scrollIntoView({ block: "nearest" });
}

function setStatus(id, status) {
  state.status[id] = status;
  updateNode(id);
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
    case "task_started":
      delete state.failures[ev.task_id];  // a step run again after a re-plan starts afresh
      // a finished step stays finished: a resumed run starts it again only to serve it
      if (!["done", "cached"].includes(state.status[ev.task_id])) setStatus(ev.task_id, "running");
      log(`${ev.task_id} ${ev.tool} started`);
      break;
    case "task_progress":
      state.progress[ev.task_id] = ev;
      updateNode(ev.task_id);
      break;
    case "task_finished":
      state.outputs[ev.task_id] = ev.output;
      state.seconds[ev.task_id] = ev.seconds;
      setStatus(ev.task_id, ev.cached ? "cached" : "done");
      log(`${ev.task_id} ${ev.tool} ${ev.cached ? "served from cache" : `finished in ${ev.seconds.toFixed(2)} s`}`);
      break;
    case "task_failed":
      state.failures[ev.task_id] = ev.message;
      setStatus(ev.task_id, "failed");
      log(`${ev.task_id} ${ev.tool} failed: ${ev.message}`);
      break;
    case "task_retrying": log(`${ev.task_id} retrying (attempt ${ev.attempt} failed: ${ev.error})`); break;
    case "approval_requested":
      ev.tasks.forEach((t) => setStatus(t.task_id, "waiting"));
      log(`waiting for approval: ${ev.tasks.map((t) => `${t.task_id} (${t.tool})`).join(", ")}`);
      break;
    case "artifact": showArtifact(ev.artifact, ev.task_id, ev.field); break;
    case "answer": $("answer").textContent = ev.text; break;
    default: break;
  }
}

// a produced file: in its step's box, and with a download link under the answer
async function showArtifact(ref, task, field) {
  const made = (state.media[task] ||= []);  // two steps may make the same bytes: both show them
  if (!made.some((m) => m.ref.id === ref.id)) {
    made.push({ ref, field });
    addNodeMedia(task, ref, field);
  }
  if (state.shown.has(ref.id)) return;
  state.shown.add(ref.id);
  const card = el("figure", { class: "artifact", "data-kind": ref.kind, "data-id": ref.id });
  $("artifacts").append(card);
  const url = await blobURL(ref.id);
  let media;
  if (ref.kind === "image") media = el("img", { alt: `${task}.${field}` });
  else {
    media = el(ref.kind === "audio" ? "audio" : "video");
    media.controls = true;
    media.autoplay = true;
  }
  media.src = url;
  const caption = document.createElement("figcaption");
  const ext = { "image/png": "png", "audio/wav": "wav", "video/mp4": "mp4" }[ref.mime] || ref.mime.split("/")[1];
  const link = el("a", { href: url, download: `${task}-${field}.${ext}` });
  link.textContent = `Download ${link.download}`;
  caption.append(`${task} · ${ref.kind} · `, link);
  card.append(media, caption);
  if (ref.kind !== "image") media.play().catch(() => { /* needs a click: the controls are there */ });
}

function resetRun() {
  for (const url of Object.values(state.blobs)) url.then(URL.revokeObjectURL, () => { /* never made */ });
  Object.assign(state, { run: null, lastEvent: null, plan: null, status: {}, progress: {}, outputs: {},
                         seconds: {}, failures: {}, media: {}, blobs: {}, shown: new Set() });
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
    if (state.run !== runId) return;  // another run was opened: this stream is not shown
    if (message.id) {
      // an event seen already (a stream still open from before) changes nothing
      if (state.lastEvent && Number(message.id) <= Number(state.lastEvent)) continue;
      state.lastEvent = message.id;
    }
    if (message.event === "mmagent") onEvent(JSON.parse(message.data));
    else if (message.event === "end") break;
  }
  const info = await json(`/v1/runs/${runId}`);
  $("run-status").textContent = info.status.replace("_", " ");
  showRunButtons(info);
  loadRuns().catch(() => { /* the list refreshes on the next run */ });
  if (info.answer) $("answer").textContent = info.answer;
  $("run-error").textContent = runError(info);
  for (const a of info.artifacts || []) showArtifact(a, a.task, a.field);
  if (info.status === "awaiting_approval") askApproval(info);
  else if (!ACTIVE.includes(info.status) && state.plan) showEnded(info);
}

// why a run failed, in words: its own error, else the failed steps and theirs
function runError(info) {
  if (info.error) return info.error.message;
  if (info.status !== "failed") return "";
  const failed = Object.values(info.failures || {});
  return failed.length ? failed.join("; ") : "The run failed.";
}

// the run is over: a step that never reported (rejected, or after a failure) did not run
function showEnded(info) {
  Object.assign(state.failures, info.failures || {});
  for (const t of state.plan.tasks) {
    if (["pending", "waiting", "running", undefined].includes(state.status[t.id]) &&
        !(info.outputs && t.id in info.outputs)) state.status[t.id] = "skipped";
    updateNode(t.id);
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
    if (state.run) $("run-error").textContent = e.message;  // the run went on: it is in the list
    else notStarted(e);
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
    notStarted(e);
    return;
  }
  await start(body, $("send"));
}

function notStarted(error) {
  $("run-error").textContent = error.message;
  $("run-status").textContent = "not started";
}

// chosen files, shown before anything is sent: a thumbnail or a player, the name and the size
function showPreviews(input, box) {
  for (const url of box.urls || []) URL.revokeObjectURL(url);
  box.urls = [];
  box.replaceChildren(...[...input.files].map((file) => {
    const figure = el("figure", { class: "preview", "data-name": file.name });
    const kind = file.type.split("/")[0];
    if (MEDIA.includes(kind)) {
      const url = URL.createObjectURL(file);
      box.urls.push(url);
      const media = el(kind === "image" ? "img" : kind, { src: url, alt: file.name });
      if (kind !== "image") {
        media.controls = true;
        media.preload = "metadata";
      }
      figure.append(media);
    }
    figure.append(el("figcaption", {}, `${file.name} · ${sizeText(file.size)}`));
    return figure;
  }));
}

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
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
  $("workflow-error").textContent = "";
  if (!wf) return;
  $("workflow-description").textContent = wf.description;
  for (const [name, spec] of Object.entries(wf.inputs)) box.append(workflowField(name, spec));
}

function workflowField(name, spec) {
  const label = el("label", { class: "field" });
  const base = baseType(spec.type);
  const input = el("input", { name, "data-type": spec.type });
  label.append(`${name} (${spec.type}${spec.required ? "" : ", optional"})`, input);
  if (MEDIA.includes(base)) {
    input.type = "file";
    input.accept = `${base}/*`;
    input.multiple = spec.type.startsWith("list[");
    const previews = el("div", { class: "previews" });
    input.addEventListener("change", () => showPreviews(input, previews));
    label.append(previews);
  } else if (spec.type === "boolean") {
    input.type = "checkbox";
    input.checked = Boolean(spec.default);
  } else {
    input.type = ["number", "integer"].includes(spec.type) ? "number" : "text";
    if (spec.default !== null && spec.default !== undefined) input.value = spec.default;
  }
  input.required = spec.required && input.type !== "checkbox";
  input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
  if (spec.description) label.title = spec.description;
  return label;
}

// required inputs left empty, named in the form (the browser's own bubble says no name)
function missingInputs() {
  const missing = [...$("workflow-inputs").querySelectorAll("input")].filter((i) =>
    i.required && (i.type === "file" ? !i.files.length : !i.value.trim()));
  for (const input of missing) input.setAttribute("aria-invalid", "true");
  $("workflow-error").textContent = missing.map((i) => i.type === "file"
    ? `Choose a file for ${i.name} (${i.dataset.type}): the workflow needs it.`
    : `Fill in ${i.name} (${i.dataset.type}): the workflow needs it.`).join(" ");
  if (missing.length) missing[0].focus();
  return missing.length > 0;
}

async function workflowValue(input) {
  const type = input.dataset.type;
  if (input.type === "file") {
    const ids = [];
    for (const file of input.files) ids.push(`artifact://${(await upload(file)).id}`);
    return !ids.length ? undefined : type.startsWith("list[") ? ids : ids[0];
  }
  if (input.type === "checkbox") return input.checked;
  if (input.value === "") return undefined;
  if (input.type === "number") return Number(input.value);
  if (type !== "json" && !type.startsWith("list[")) return input.value;
  try {
    return JSON.parse(input.value);
  } catch (_) {
    throw new Error(`got ${input.value.slice(0, 40)} for ${input.name}; expected JSON (${type})`);
  }
}

async function runWorkflow(event) {
  event.preventDefault();
  if (missingInputs()) return;
  resetRun();
  const inputs = {};
  try {
    for (const input of $("workflow-inputs").querySelectorAll("input")) {
      const value = await workflowValue(input);
      if (value !== undefined) inputs[input.name] = value;
    }
  } catch (e) {
    notStarted(e);
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
$("files").addEventListener("change", () => showPreviews($("files"), $("files-preview")));
$("workflow").addEventListener("change", showWorkflowInputs);
$("approve").addEventListener("click", () => decide(true));
$("cancel").addEventListener("click", cancelRun);
$("rerun").addEventListener("click", rerun);
$("refresh-runs").addEventListener("click", () => loadRuns().catch((e) => { $("run-error").textContent = e.message; }));
$("reject").addEventListener("click", () => decide(false));
document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => showTab(t.dataset.tab)));

if (state.key) signIn(state.key).catch(() => { sessionStorage.removeItem(KEY); $("key-form").hidden = false; });
else $("key-form").hidden = false;
