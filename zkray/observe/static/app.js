// The zkray dashboard: polls /api/status every second and redraws. No build step, no dependencies.
"use strict";

const POLL_MS = 1000;
const WEI_PER_ETH = 10n ** 18n;

const $ = (id) => document.getElementById(id);

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (cls) td.className = cls;
  return td;
}

function fillRows(tbody, rows) {
  // rows: arrays of <td> elements; replaces the body in one go.
  const frag = document.createDocumentFragment();
  for (const cells of rows) {
    const tr = document.createElement("tr");
    for (const td of cells) tr.appendChild(td);
    frag.appendChild(tr);
  }
  tbody.replaceChildren(frag);
}

function formatEth(weiText) {
  // wei arrive as a decimal string: exact with BigInt, shown with 6 decimals.
  const wei = BigInt(weiText || "0");
  const whole = wei / WEI_PER_ETH;
  const frac = ((wei % WEI_PER_ETH) * 1000000n) / WEI_PER_ETH;
  return `${whole}.${frac.toString().padStart(6, "0")} ETH`;
}

function formatCount(n) {
  return Number(n).toLocaleString("en-US");
}

function render(s) {
  const mode = $("mode");
  mode.textContent = s.mode;
  mode.dataset.mode = s.mode;
  $("mode-reason").textContent = s.running ? s.mode_reason : "sources stopped";
  $("updated").textContent = "updated " + new Date(s.at * 1000).toISOString().slice(11, 19) + " UTC";
  $("updated").classList.remove("stale");

  $("proofs").textContent = formatCount(s.proofs);
  $("cycles").textContent = formatCount(s.cycles_proved);
  const pt = s.prove_times;
  $("prove-time").textContent = pt.count ? (pt.sum_s / pt.count).toFixed(2) + " s" : "–";
  $("earned").textContent = formatEth(s.earned_wei);

  const jobs = Object.entries(s.jobs).filter(([, n]) => n > 0);
  fillRows($("jobs").tBodies[0], jobs.length
    ? jobs.map(([state, n]) => {
        const td = cell(n, "n");
        td.dataset.state = state;
        return [cell(state), td];
      })
    : [[cell("no jobs yet")]]);
  $("proving-now").textContent = s.proving_now.length ? s.proving_now.join(", ") : "none";

  fillRows($("nodes").tBodies[0], s.nodes.length
    ? s.nodes.map((n) => [cell(n.node_id.slice(0, 12)), cell(n.address), cell(n.cpus, "n"), cell(n.gpus, "n"),
                          cell(n.proving.length ? n.proving.join(", ") : "idle")])
    : [[cell("no Ray nodes reported")]]);

  const breakers = Object.entries(s.breakers);
  fillRows($("breakers").tBodies[0], breakers.length
    ? breakers.map(([name, state]) => {
        const td = cell("");
        const pill = document.createElement("span");
        pill.className = "pill state-" + state;
        pill.textContent = state;
        td.appendChild(pill);
        return [cell(name), td];
      })
    : [[cell("none yet")]]);
  const caches = Object.entries(s.caches);
  fillRows($("caches").tBodies[0], caches.length
    ? caches.map(([name, c]) => [cell(name), cell(c.hits, "n"), cell(c.misses, "n")])
    : [[cell("none")]]);

  const last = s.throughput[s.throughput.length - 1];
  $("throughput-latest").textContent = last
    ? `${last.proofs_per_min.toFixed(1)} proofs/min, ${formatCount(Math.round(last.cycles_per_s))} cycles/s`
    : "–";
  drawChart($("chart"), s.throughput);
}

function drawChart(canvas, samples) {
  // Proofs per minute over the kept samples; the y axis scales to the largest value.
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 30;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = "#ccd";
  ctx.beginPath();
  ctx.moveTo(pad, 5);
  ctx.lineTo(pad, h - pad);
  ctx.lineTo(w - 5, h - pad);
  ctx.stroke();
  const ys = samples.map((p) => p.proofs_per_min);
  const max = Math.max(1, ...ys);
  ctx.fillStyle = "#7a8494";
  ctx.font = "11px sans-serif";
  ctx.fillText(max.toFixed(0), 2, 12);
  ctx.fillText("0", 2, h - pad);
  canvas.dataset.points = String(samples.length);
  canvas.dataset.max = String(max);
  if (samples.length < 2) {
    ctx.fillText("collecting samples…", pad + 10, h / 2);
    return;
  }
  const span = samples[samples.length - 1].at - samples[0].at;
  ctx.fillStyle = "#7a8494";
  ctx.fillText(`-${Math.round(span)} s`, pad, h - pad + 14);
  ctx.fillText("now", w - 30, h - pad + 14);
  const x = (i) => pad + ((w - pad - 5) * i) / (samples.length - 1);
  const y = (v) => h - pad - ((h - pad - 10) * v) / max;
  ctx.strokeStyle = "#2d6cdf";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ys.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
  ctx.stroke();
  ctx.lineTo(x(ys.length - 1), h - pad);
  ctx.lineTo(x(0), h - pad);
  ctx.closePath();
  ctx.fillStyle = "rgba(45, 108, 223, 0.15)";
  ctx.fill();
}

async function poll() {
  try {
    const resp = await fetch("/api/status", { cache: "no-store" });
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    render(await resp.json());
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (err) {
    $("updated").textContent = "stale: " + err.message;
    $("updated").classList.add("stale");
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
