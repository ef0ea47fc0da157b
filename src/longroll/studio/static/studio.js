// longroll studio: one WebSocket per page; frames are drawn at the video's own fps from a buffer.
"use strict";

const $ = (id) => document.getElementById(id);
const CHART_KEYS = [
  ["object_presence", "object presence"], ["colour_fidelity", "colour fidelity"], ["separation", "separation (1 = world)"],
  ["static_fraction", "static fraction"], ["temporal_flickering", "flicker (1 = none)"], ["motion_energy", "motion"],
  ["first_frame_consistency", "drift: SSIM to frame 0"], ["identity_colour_drift", "identity colour drift"],
];

const LEAD_SECONDS = 3;  // the run stays this far ahead of what is shown, so a switch lands soon after it is asked
const state = {
  info: null, ws: null, job: null, video: null, fps: 8, total: 0, made: 0, seconds: 0,
  queue: [], shown: 0, clock: null, awaiting: false, paused: false, series: {}, switches: [], replaying: false,
};

// ---------------------------------------------------------------------------------------------- setup
async function init() {
  state.info = await (await fetch("/api/info")).json();
  const i = state.info;
  $("model-info").textContent = `model ${i.model} · ${i.fps} fps · ${i.workers} worker(s) · up to ${i.max_seconds / 60} min`;
  for (const [name, s] of Object.entries(i.schedules)) {
    const option = new Option(name, name);
    option.title = s.description;
    $("schedule").add(option);
  }
  $("seconds").max = i.max_seconds;
  $("prompt").maxLength = i.max_prompt;
  $("switch-prompt").maxLength = i.max_prompt;
  for (const name of i.overrides) {
    const label = document.createElement("label");
    label.textContent = name;
    const input = document.createElement("input");
    input.dataset.override = name;
    input.placeholder = "preset's";
    label.appendChild(input);
    $("overrides").appendChild(label);
  }
  $("schedule").addEventListener("change", () => { offerForSchedule(); checkSoon(); });
  offerForSchedule();
  $("prompt").addEventListener("input", () => { suggest($("prompt"), $("suggestions")); checkSoon(); });
  $("prompt").addEventListener("focus", () => suggest($("prompt"), $("suggestions")));
  $("generate").onclick = generate;
  $("pause").onclick = () => send({ type: state.paused ? "resume" : "pause" });
  $("stop").onclick = () => send({ type: "stop" });
  $("switch").onclick = () => liveSwitch(false);
  $("cut").onclick = () => liveSwitch(true);
  $("refresh").onclick = loadGallery;
  buildCharts();
  connect();
  loadGallery();
  requestAnimationFrame(play);
}

// Offer only what the chosen schedule can do: the presets that act under it, the overrides it acts on,
// and live switches where it takes them.
function offerForSchedule() {
  const i = state.info, s = i.schedules[$("schedule").value];
  const chosen = $("preset").value || i.default_preset;
  $("preset").textContent = "";
  for (const p of s.presets) {
    $("preset").add(new Option(p + (p === i.default_preset ? " (default)" : ""), p, false, p === chosen));
  }
  if (!s.presets.includes(chosen)) $("preset").value = s.presets.includes(i.default_preset) ? i.default_preset : "none";
  for (const input of document.querySelectorAll("[data-override]")) {
    const takes = s.overrides.includes(input.dataset.override);
    input.parentElement.hidden = !takes;
    if (!takes) input.value = "";
  }
  $("live-prompt").hidden = !s.live;
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  ws.onmessage = (ev) => (typeof ev.data === "string" ? onEvent(JSON.parse(ev.data)) : onFrames(ev.data));
  ws.onclose = () => { setMessage("Disconnected from the studio; reload the page."); setRunning(false); };
  state.ws = ws;
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

// ----------------------------------------------------------------------------------------- prompting
function suggest(input, box) {
  const vocab = state.info && state.info.vocabulary;
  box.textContent = "";
  if (!vocab) return;
  const text = input.value;
  const partial = text.slice(text.lastIndexOf(" ") + 1).toLowerCase();
  const words = vocab.filter((w) => w.startsWith(partial) && w !== partial).slice(0, 18);
  for (const w of words) {
    const chip = document.createElement("span");
    chip.textContent = w;
    chip.onclick = () => { input.value = text.slice(0, text.length - partial.length) + w + " "; input.focus(); suggest(input, box); checkSoon(); };
    box.appendChild(chip);
  }
}

let checkTimer = null;
function checkSoon() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(async () => {
    if (!$("prompt").value.trim()) return setMessage("");
    const r = await fetch("/api/check", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request()) });
    const body = await r.json();
    setMessage(body.ok ? `ok: ${body.frames} frames with preset ${body.preset}` : body.message, body.ok);
  }, 300);
}

function request() {
  const overrides = {};
  for (const input of document.querySelectorAll("[data-override]")) {
    if (input.parentElement.hidden) continue;
    const v = input.value.trim();
    if (!v) continue;
    overrides[input.dataset.override] = v === "true" ? true : v === "false" ? false : isNaN(Number(v)) ? v : Number(v);
  }
  return { prompt: $("prompt").value, seconds: Number($("seconds").value), seed: Number($("seed").value),
           preset: $("preset").value, schedule: $("schedule").value, overrides };
}

function generate() {
  resetView();
  state.awaiting = true;
  send({ type: "generate", ...request(), lead_seconds: LEAD_SECONDS });
  setMessage("");
}

function liveSwitch(cut) {
  const prompt = $("switch-prompt").value.trim();
  if (prompt) send({ type: "switch", prompt, cut });
}

// ------------------------------------------------------------------------------------------- events
function onEvent(m) {
  switch (m.type) {
    case "error": setMessage(m.message); if (state.awaiting) { state.awaiting = false; setRunning(false); } break;
    case "queued":
      state.awaiting = false; state.job = m.job; if (m.video) state.video = m.video;
      $("state").textContent = `queued (position ${m.position})`;
      setRunning(true);
      break;
    case "started":
      state.fps = m.fps; state.total = m.total_frames; state.seconds = m.seconds; state.video = m.video;
      $("total").textContent = m.total_frames; $("state").textContent = "running";
      $("download-video").href = `/files/${m.video}`; $("download-video").classList.remove("disabled");
      break;
    case "progress":
      state.made = m.done; $("made").textContent = m.done;
      $("rtf").textContent = `${m.realtime.toFixed(2)}x`;
      break;
    case "segments": for (const row of m.rows) addRow(row); drawCharts(); break;
    case "timeline": state.switches = m.switches; drawTimeline(); break;
    case "switch-asked": setMessage(`${m.cut ? "cut" : "switch"} to "${m.prompt}" at the next chunk`, true); break;
    case "paused": state.paused = true; $("pause").textContent = "Resume"; $("state").textContent = "paused"; break;
    case "resumed": state.paused = false; $("pause").textContent = "Pause"; $("state").textContent = "running"; break;
    case "done": case "stopped":
      $("state").textContent = m.type === "done" ? "done" : "stopped";
      setRunning(false);
      if (m.video) { $("download-sidecar").href = `/files/${m.video}.json`; $("download-sidecar").classList.remove("disabled"); }
      loadGallery();
      break;
    case "replaying": resetView(); state.replaying = true; state.fps = m.fps; $("state").textContent = `replaying ${m.video}`; break;
    case "replayed": state.total = m.frames; $("total").textContent = m.frames; $("state").textContent = "replayed"; break;
  }
}

function onFrames(buffer) {
  const view = new DataView(buffer);
  const start = view.getUint32(0, true), n = view.getUint16(4, true), h = view.getUint16(6, true), w = view.getUint16(8, true);
  const rgb = new Uint8Array(buffer, 12);
  for (let k = 0; k < n; k++) {
    const image = new ImageData(w, h);
    const src = rgb.subarray(k * w * h * 3, (k + 1) * w * h * 3);
    for (let p = 0, q = 0; p < src.length; p += 3, q += 4) {
      image.data[q] = src[p]; image.data[q + 1] = src[p + 1]; image.data[q + 2] = src[p + 2]; image.data[q + 3] = 255;
    }
    state.queue.push({ index: start + k, image });
  }
  if (state.replaying) { state.made = start + n; $("made").textContent = state.made; }
}

// ------------------------------------------------------------------------------------------ playback
function play(now) {
  // Frame i is due at clock + i / fps; an empty buffer stalls the clock instead of skipping frames.
  const screen = $("screen");
  if (state.queue.length) {
    if (state.clock === null) state.clock = now - (state.queue[0].index / state.fps) * 1000;
    const due = (now - state.clock) / 1000 * state.fps;
    let frame = null;
    while (state.queue.length && state.queue[0].index <= due) frame = state.queue.shift();
    if (frame) {
      if (screen.width !== frame.image.width) { screen.width = frame.image.width; screen.height = frame.image.height; }
      screen.getContext("2d").putImageData(frame.image, 0, 0);
      state.shown = frame.index + 1;
      if (!state.replaying && now - (state.lastReport || 0) > 250) { send({ type: "watching", frame: state.shown }); state.lastReport = now; }
      $("video-time").textContent = `${(state.shown / state.fps).toFixed(1)} s`;
      drawTimeline();
    }
  } else if (state.clock !== null) {
    state.clock = now - (state.shown / state.fps) * 1000;  // stalled: wait for frames
  }
  $("buffer").textContent = state.queue.length;
  $("buffer-bar").style.width = `${Math.min(100, (100 * state.queue.length) / Math.max(1, 4 * state.fps))}%`;
  requestAnimationFrame(play);
}

function resetView() {
  Object.assign(state, { queue: [], shown: 0, clock: null, made: 0, switches: [], replaying: false, paused: false });
  state.series = {};
  $("made").textContent = "0"; $("video-time").textContent = "0.0 s"; $("rtf").textContent = "-";
  $("pause").textContent = "Pause";
  $("download-sidecar").classList.add("disabled");
  drawCharts(); drawTimeline();
}

function setRunning(running) {
  $("generate").disabled = running;
  for (const id of ["pause", "stop"]) $(id).disabled = !running;
  const live = running && state.info.schedules[$("schedule").value].live;
  for (const id of ["switch", "cut"]) $(id).disabled = !live;
  $("schedule").disabled = running;
}

function setMessage(text, ok = false) {
  $("message").textContent = text;
  $("message").className = ok ? "ok" : "";
}

// ------------------------------------------------------------------------------------ timeline/charts
function drawTimeline() {
  const box = $("timeline");
  box.textContent = "";
  const seconds = state.seconds || (state.total / state.fps) || 1;
  for (const s of state.switches) {
    const mark = document.createElement("div");
    mark.className = "mark" + (s.cut ? " cut" : "") + (s.at_seconds / seconds > 0.5 ? " right" : "");
    mark.style.left = `${(100 * s.at_seconds) / seconds}%`;
    const label = document.createElement("span");
    label.textContent = `${s.at_seconds.toFixed(1)}s ${s.cut ? "cut" : "→"} ${s.prompt}`;
    mark.appendChild(label);
    box.appendChild(mark);
  }
  const head = document.createElement("div");
  head.className = "head";
  head.style.left = `${(100 * state.shown) / state.fps / seconds}%`;
  box.appendChild(head);
}

function buildCharts() {
  for (const [key, title] of CHART_KEYS) {
    const div = document.createElement("div");
    div.className = "chart";
    div.innerHTML = `<div class="title">${title} <b data-last="${key}"></b></div><canvas data-chart="${key}" width="300" height="90"></canvas>`;
    $("charts").appendChild(div);
  }
}

function addRow(row) {
  for (const [key] of CHART_KEYS) {
    if (row[key] === undefined || row[key] === null) continue;
    (state.series[key] = state.series[key] || []).push([row.end_s, row[key]]);
  }
}

function drawCharts() {
  const seconds = state.seconds || 1;
  for (const [key] of CHART_KEYS) {
    const canvas = document.querySelector(`[data-chart="${key}"]`);
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const pts = state.series[key] || [];
    document.querySelector(`[data-last="${key}"]`).textContent = pts.length ? pts[pts.length - 1][1].toFixed(3) : "";
    if (!pts.length) continue;
    const values = pts.map((p) => p[1]);
    let lo = Math.min(0, ...values), hi = Math.max(1, ...values);
    ctx.strokeStyle = "#4aa3ff"; ctx.lineWidth = 2; ctx.beginPath();
    pts.forEach(([t, v], i) => {
      const x = (t / seconds) * canvas.width, y = canvas.height - ((v - lo) / (hi - lo || 1)) * (canvas.height - 6) - 3;
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
  }
}

// ------------------------------------------------------------------------------------------- gallery
async function loadGallery() {
  const rows = await (await fetch("/api/videos")).json();
  const list = $("gallery");
  list.textContent = "";
  for (const r of rows) {
    const li = document.createElement("li");
    li.innerHTML = `<span>${r.name}</span><span class="muted"></span>`;
    li.children[1].textContent = `${r.seconds}s · ${r.schedule} · ${r.preset} · ${r.complete ? "complete" : "stopped"} · ${r.prompts}`;
    const replay = document.createElement("button");
    replay.textContent = "Replay";
    replay.onclick = () => send({ type: "replay", name: r.name });
    const show = document.createElement("button");
    show.textContent = "Sidecar";
    show.onclick = () => { $("sidecar-view").textContent = `${r.replay}\n\n${JSON.stringify(r.sidecar, null, 2)}`; };
    const link = document.createElement("a");
    link.className = "button"; link.href = `/files/${r.name}`; link.textContent = "MP4"; link.download = r.name;
    li.append(replay, show, link);
    list.appendChild(li);
  }
}

init();
