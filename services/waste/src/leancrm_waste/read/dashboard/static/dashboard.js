// Lean CRM waste walk: fetches /api/v1/summary and /api/v1/lag, draws every chart as
// inline SVG (no library, nothing from the internet) and refreshes itself.
// Each chart is a <figure data-chart="name">; once drawn with data it carries
// data-drawn="true" and data-points="<number of data points drawn>".
// Access: the data needs an operations token (scope waste:read). The page asks for it
// once (or takes it once from the address, #token=..., and removes it from there), keeps
// it in sessionStorage (this tab only) and sends it as "Authorization: Bearer"; it asks
// again when the token is refused (401) and shows a 403 as an error naming the scope.
// <body data-auth> says where it stands: needed, refused, forbidden or ok.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
  const CHANNELS = ["phone", "chat", "email", "sms", "social", "web_self_service", "community", "bot"];
  const DAY_MS = 86400000;
  const HOUR_MS = 3600000;

  const page = new URLSearchParams(window.location.search);
  const state = {
    refreshMs: Math.max(1000, 1000 * (Number(page.get("refresh")) || 5)),
    timer: null,
    paused: false,
    teams: new Set(),
    last: null,
  };

  // ---------------------------------------------------------------- the token
  const TOKEN_KEY = "leancrm.operations_token";
  let memoryToken = null; // when the browser keeps no sessionStorage
  function storedToken() {
    try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return memoryToken; }
  }
  function storeToken(t) {
    memoryToken = t || null;
    try {
      if (t) window.sessionStorage.setItem(TOKEN_KEY, t); else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* memoryToken keeps it for this page */ }
  }
  function takeTokenFromAddress() {
    // #token=... is never sent to the server; keep it in the tab, then take it off the address
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    if (!fragment.has("token")) return;
    const t = fragment.get("token").trim();
    if (t) storeToken(t);
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  class AccessError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // ---------------------------------------------------------------- helpers
  function h(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) e.setAttribute(k, String(v));
    }
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function tip(node, text) { h("title", {}, node, text); return node; }
  function html(tag, attrs, parent, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function pct(x, digits) {
    return x === null || x === undefined ? "–" : (100 * x).toFixed(digits === undefined ? 1 : digits) + " %";
  }
  function num(x) { return x === null || x === undefined ? "–" : Number(x).toLocaleString("en-GB"); }
  function duration(s) {
    if (s === null || s === undefined) return "–";
    const a = Math.abs(s);
    if (a < 60) return s.toFixed(0) + " s";
    if (a < 3600) return (s / 60).toFixed(a < 600 ? 1 : 0) + " min";
    return (s / 3600).toFixed(a < 36000 ? 1 : 0) + " h";
  }
  function timeUnit(maxSeconds) {
    if (maxSeconds >= 3 * 3600) return { div: 3600, name: "hours" };
    if (maxSeconds >= 180) return { div: 60, name: "minutes" };
    return { div: 1, name: "seconds" };
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function ticks(max, n) {
    const out = [];
    for (let i = 0; i <= n; i++) out.push((max * i) / n);
    return out;
  }
  function utcDay(d) { return d.toISOString().slice(0, 10); }
  function midnight(ms) { return Math.floor(ms / DAY_MS) * DAY_MS; }
  function label(w) { return w.replace(/_/g, "-"); }
  function mix(c1, c2, t) {
    const a = [1, 3, 5].map((i) => parseInt(c1.slice(i, i + 2), 16));
    const b = [1, 3, 5].map((i) => parseInt(c2.slice(i, i + 2), 16));
    const c = a.map((x, i) => Math.round(x + (b[i] - x) * Math.max(0, Math.min(1, t))));
    return "#" + c.map((x) => x.toString(16).padStart(2, "0")).join("");
  }
  function inkOn(hex) {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return 0.299 * r + 0.587 * g + 0.114 * b < 140 ? "#ffffff" : "#1f2933";
  }
  function colorFor(list, key) {
    const i = list.indexOf(key);
    return PALETTE[(i < 0 ? list.length : i) % PALETTE.length];
  }

  function frame(fig, height) {
    const plot = fig.querySelector(".plot");
    plot.textContent = "";
    const width = Math.max(320, Math.floor(plot.clientWidth || 600));
    const svg = h("svg", { viewBox: `0 0 ${width} ${height}`, width: width, height: height,
      role: "img", "aria-label": fig.querySelector("h2").textContent }, plot);
    return { svg, width, height };
  }
  function done(fig, points, note) {
    fig.dataset.drawn = points > 0 ? "true" : "false";
    fig.dataset.points = String(points);
    fig.querySelector(".note").textContent = note || "";
    if (points === 0) {
      const plot = fig.querySelector(".plot");
      plot.textContent = "";
      html("p", { class: "empty" }, plot, "No data in this period yet.");
    }
  }
  function yAxis(svg, x, top, bottom, max, n, fmt, right) {
    const g = h("g", { class: "axis" }, svg);
    for (const v of ticks(max, n)) {
      const y = bottom - ((bottom - top) * v) / max;
      h("text", { x: right ? x + 6 : x - 6, y: y + 4, "text-anchor": right ? "start" : "end" }, g, fmt(v));
    }
    return g;
  }
  function gridLines(svg, left, right, top, bottom, max, n) {
    const g = h("g", { class: "grid" }, svg);
    for (const v of ticks(max, n)) {
      const y = bottom - ((bottom - top) * v) / max;
      h("line", { x1: left, x2: right, y1: y, y2: y }, g);
    }
  }
  function legend(svg, items, x, y) {
    const g = h("g", { class: "legend" }, svg);
    let cx = x;
    for (const [name, color, dashed] of items) {
      if (dashed) h("line", { x1: cx, x2: cx + 14, y1: y - 4, y2: y - 4, stroke: color, "stroke-width": 2, "stroke-dasharray": "4 3" }, g);
      else h("rect", { x: cx, y: y - 9, width: 12, height: 10, rx: 2, fill: color }, g);
      const t = h("text", { x: cx + 17, y: y }, g, name);
      cx += 17 + Math.max(40, (t.getComputedTextLength ? t.getComputedTextLength() : name.length * 6.5)) + 14;
    }
  }

  // ---------------------------------------------------------------- charts
  function drawPareto(fig, pareto) {
    const rows = pareto.rows;
    const total = pareto.total_cost_s;
    if (!(total > 0)) return done(fig, 0);
    const { svg, width, height } = frame(fig, 320);
    const m = { l: 58, r: 48, t: 22, b: 62 };
    const top = m.t, bottom = height - m.b, left = m.l, right = width - m.r;
    const unit = timeUnit(rows[0].cost_s);
    const max = niceMax(rows[0].cost_s / unit.div);
    gridLines(svg, left, right, top, bottom, max, 4);
    yAxis(svg, left, top, bottom, max, 4, (v) => num(+v.toFixed(1)));
    yAxis(svg, right, top, bottom, 1, 4, (v) => Math.round(v * 100) + " %", true);
    h("text", { x: 12, y: (top + bottom) / 2, transform: `rotate(-90 12 ${(top + bottom) / 2})`, "text-anchor": "middle", class: "small" }, svg, `cost (${unit.name})`);
    const band = (right - left) / rows.length;
    const bw = Math.min(70, band * 0.62);
    const y = (v) => bottom - ((bottom - top) * v) / max;
    const yc = (v) => bottom - (bottom - top) * v;
    // 80 % reference
    h("line", { x1: left, x2: right, y1: yc(0.8), y2: yc(0.8), stroke: "#9aa5b1", "stroke-dasharray": "3 4" }, svg);
    h("text", { x: right - 4, y: yc(0.8) - 4, "text-anchor": "end", class: "small" }, svg, "80 %");
    let drawn = 0;
    const pts = [];
    rows.forEach((r, i) => {
      const cx = left + band * i + band / 2;
      const v = r.cost_s / unit.div;
      const measured = r.unit === "seconds";
      const how = measured ? `${duration(r.quantity)} measured`
        : `${num(r.quantity)} × ${num(r.cost_per_unit_s)} s`;
      const bar = h("rect", { x: cx - bw / 2, y: y(v), width: bw, height: Math.max(0, bottom - y(v)),
        fill: measured ? "#4e79a7" : "#f28e2b", rx: 2 }, svg);
      tip(bar, `${label(r.waste_type)}: ${r.words}\n${how} = ${duration(r.cost_s)} (${pct(r.share)} of the cost)`);
      if (r.cost_s > 0) drawn++;
      h("text", { x: cx, y: y(v) - 5, "text-anchor": "middle", class: "label" }, svg, duration(r.cost_s));
      h("text", { x: cx, y: bottom + 15, "text-anchor": "middle", class: "label" }, svg, label(r.waste_type));
      h("text", { x: cx, y: bottom + 29, "text-anchor": "middle", class: "small" }, svg, how);
      pts.push([cx, yc(r.cumulative_share || 0), r]);
    });
    h("line", { x1: left, x2: right, y1: bottom, y2: bottom, stroke: "#9aa5b1" }, svg);
    h("polyline", { points: pts.map((p) => p[0] + "," + p[1]).join(" "), fill: "none", stroke: "#1f2933", "stroke-width": 2 }, svg);
    for (const [cx, cy, r] of pts) {
      tip(h("circle", { cx, cy, r: 3.5, fill: "#1f2933" }, svg), `cumulative ${pct(r.cumulative_share)}`);
    }
    legend(svg, [["measured in seconds", "#4e79a7"], ["counted × time equivalent", "#f28e2b"],
      ["cumulative share", "#1f2933", true]], left, height - 10);
    const vital = rows.filter((r) => r.cost_s > 0 && (r.cumulative_share - r.share) < 0.8).map((r) => label(r.waste_type));
    done(fig, drawn, `Total ${duration(total)}. Vital few (first 80 %): ${vital.join(", ") || "–"}.`);
  }

  function drawLines(fig, days, series, opts) {
    const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
    if (!values.length) return done(fig, 0);
    const { svg, width, height } = frame(fig, 250);
    const m = { l: 46, r: 16, t: 26, b: 34 };
    const top = m.t, bottom = height - m.b, left = m.l, right = width - m.r;
    const max = opts.max || niceMax(Math.max(...values));
    gridLines(svg, left, right, top, bottom, max, 4);
    yAxis(svg, left, top, bottom, max, 4, (v) => Math.round(v * 100) + " %");
    const step = days.length > 1 ? (right - left) / (days.length - 1) : 0;
    const x = (i) => (days.length > 1 ? left + step * i : (left + right) / 2);
    const y = (v) => bottom - ((bottom - top) * v) / max;
    const axis = h("g", { class: "axis" }, svg);
    const every = Math.max(1, Math.ceil(days.length / Math.max(2, Math.floor((right - left) / 70))));
    days.forEach((d, i) => {
      if (i % every === 0 || i === days.length - 1) {
        h("text", { x: x(i), y: bottom + 16, "text-anchor": "middle" }, axis, d.slice(5));
      }
    });
    h("line", { x1: left, x2: right, y1: bottom, y2: bottom, stroke: "#9aa5b1" }, svg);
    let points = 0;
    for (const s of series) {
      let path = "";
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return; }
        path += (pen ? " L" : " M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
      });
      h("path", { d: path.trim(), fill: "none", stroke: s.color, "stroke-width": 2.2 }, svg);
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        points++;
        tip(h("circle", { cx: x(i), cy: y(v), r: 3.2, fill: s.color }, svg), `${days[i]} · ${s.name}: ${pct(v)}${s.extra ? " · " + s.extra(i) : ""}`);
      });
    }
    legend(svg, series.map((s) => [s.name, s.color]), left, 14);
    done(fig, points, opts.note ? opts.note() : "");
  }

  function hoursOf(filters) {
    const start = Date.parse(filters.from);
    const end = Date.parse(filters.to);
    const out = [];
    for (let t = Math.floor(start / HOUR_MS) * HOUR_MS; t < end; t += HOUR_MS) out.push(t);
    return out;
  }
  function hourAxis(svg, hours, x, bottom, cell) {
    const axis = h("g", { class: "axis" }, svg);
    const dayEvery = Math.max(1, Math.ceil(110 / (cell * 24)));
    let n = 0;
    hours.forEach((t, i) => {
      const hr = new Date(t).getUTCHours();
      if (hr === 0 || i === 0) {
        if (n++ % dayEvery === 0) {
          h("line", { x1: x(i), x2: x(i), y1: bottom, y2: bottom + 5, stroke: "#9aa5b1" }, axis);
          h("text", { x: x(i) + 2, y: bottom + 17, "text-anchor": "start" }, axis, utcDay(new Date(t)).slice(5) + (hours.length <= 48 ? " " + String(hr).padStart(2, "0") + ":00" : ""));
        }
      } else if (cell * 6 >= 26 && hr % 6 === 0) {
        h("text", { x: x(i), y: bottom + 17, "text-anchor": "middle", class: "small" }, axis, String(hr).padStart(2, "0"));
      }
    });
  }

  function occupancyColor(o, target) {
    if (o === null || o === undefined) return "#e5e7eb";
    if (o <= target) return mix("#f1f6fb", "#2e8b57", Math.pow(o / target, 1.4));
    return mix("#2e8b57", "#c0392b", (o - target) / Math.max(0.01, 1 - target));
  }

  function drawOccupancy(fig, data) {
    const rows = data.capacity.rows;
    const teams = data.capacity.teams;
    if (!rows.length) return done(fig, 0);
    const hours = hoursOf(data.filters);
    const target = data.target_occupancy || 0.85;
    const rowH = 22;
    const m = { l: 92, r: 12, t: 8, b: 52 };
    const { svg, width } = frame(fig, m.t + rowH * teams.length + m.b);
    const left = m.l, right = width - m.r;
    const cell = (right - left) / hours.length;
    const index = new Map(hours.map((t, i) => [t, i]));
    const x = (i) => left + cell * i;
    const bottom = m.t + rowH * teams.length;
    teams.forEach((team, j) => {
      h("text", { x: left - 8, y: m.t + rowH * j + rowH / 2 + 4, "text-anchor": "end", class: "label" }, svg, team);
      h("rect", { x: left, y: m.t + rowH * j, width: right - left, height: rowH - 2, fill: "#fafbfc" }, svg);
    });
    let points = 0;
    for (const r of rows) {
      const i = index.get(Date.parse(r.bucket_start));
      const j = teams.indexOf(r.team);
      if (i === undefined || j < 0) continue;
      points++;
      const c = h("rect", { x: x(i), y: m.t + rowH * j, width: Math.max(1, cell - (cell > 4 ? 0.6 : 0)), height: rowH - 2, fill: occupancyColor(r.occupancy, target) }, svg);
      tip(c, `${r.team} · ${r.bucket_start.slice(0, 13).replace("T", " ")}:00 UTC\noccupancy ${pct(r.occupancy)} (target ${pct(target, 0)})\nstaffed ${duration(r.staffed_s)}, busy ${duration(r.busy_s)}, overproduction ${duration(r.overproduction_s)}`);
    }
    hourAxis(svg, hours, x, bottom, cell);
    // legend: a gradient from 0 through the target to 100 %
    const lg = h("g", { class: "legend" }, svg);
    const lx = left, ly = bottom + 28, lw = Math.min(260, right - left);
    for (let k = 0; k < 52; k++) {
      h("rect", { x: lx + (lw * k) / 52, y: ly, width: lw / 52 + 0.5, height: 9, fill: occupancyColor(k / 51, target) }, lg);
    }
    h("text", { x: lx, y: ly + 21, class: "small" }, lg, "0 %");
    h("text", { x: lx + lw * target, y: ly + 21, "text-anchor": "middle", class: "small" }, lg, `target ${pct(target, 0)}`);
    h("text", { x: lx + lw, y: ly + 21, "text-anchor": "end", class: "small" }, lg, "100 %");
    h("rect", { x: lx + lw + 16, y: ly, width: 12, height: 9, fill: "#e5e7eb" }, lg);
    h("text", { x: lx + lw + 32, y: ly + 8, class: "small" }, lg, "busy without staffing");
    const occ = data.headline.occupancy;
    done(fig, points, `Occupancy over the period ${pct(occ)}; target ${pct(target, 0)}.`);
  }

  function drawOverproduction(fig, data) {
    const rows = data.capacity.rows.filter((r) => r.overproduction_s > 0);
    const teams = data.capacity.teams;
    if (!data.capacity.rows.length) return done(fig, 0);
    const hours = hoursOf(data.filters);
    const index = new Map(hours.map((t, i) => [t, i]));
    const stacks = new Map();
    for (const r of rows) {
      const i = index.get(Date.parse(r.bucket_start));
      if (i === undefined) continue;
      if (!stacks.has(i)) stacks.set(i, []);
      stacks.get(i).push(r);
    }
    const maxStack = Math.max(0, ...[...stacks.values()].map((s) => s.reduce((a, r) => a + r.overproduction_s, 0)));
    const { svg, width, height } = frame(fig, 230);
    const m = { l: 52, r: 12, t: 28, b: 30 };
    const top = m.t, bottom = height - m.b, left = m.l, right = width - m.r;
    const unit = maxStack >= 3 * 3600 ? { div: 3600, name: "agent hours" } : { div: 60, name: "agent minutes" };
    const max = niceMax(maxStack / unit.div || 1);
    gridLines(svg, left, right, top, bottom, max, 4);
    yAxis(svg, left, top, bottom, max, 4, (v) => num(+v.toFixed(1)));
    h("text", { x: 12, y: (top + bottom) / 2, transform: `rotate(-90 12 ${(top + bottom) / 2})`, "text-anchor": "middle", class: "small" }, svg, unit.name);
    const cell = (right - left) / hours.length;
    const x = (i) => left + cell * i;
    const y = (v) => bottom - ((bottom - top) * v) / max;
    let points = 0;
    for (const [i, stack] of stacks) {
      let base = 0;
      stack.sort((a, b) => teams.indexOf(a.team) - teams.indexOf(b.team));
      for (const r of stack) {
        const v = r.overproduction_s / unit.div;
        const rect = h("rect", { x: x(i) + (cell > 3 ? 0.5 : 0), y: y(base + v), width: Math.max(1, cell - (cell > 3 ? 1 : 0)), height: Math.max(0.5, y(base) - y(base + v)), fill: colorFor(teams, r.team) }, svg);
        tip(rect, `${r.team} · ${r.bucket_start.slice(0, 13).replace("T", " ")}:00 UTC\noverproduction ${duration(r.overproduction_s)} (occupancy ${pct(r.occupancy)}, staffed ${duration(r.staffed_s)})`);
        base += v;
        points++;
      }
    }
    h("line", { x1: left, x2: right, y1: bottom, y2: bottom, stroke: "#9aa5b1" }, svg);
    hourAxis(svg, hours, x, bottom, cell);
    legend(svg, teams.map((t) => [t, colorFor(teams, t)]), left, 14);
    const total = data.headline.overproduction_s;
    const byTeam = teams.map((t) => [t, data.capacity.rows.filter((r) => r.team === t).reduce((a, r) => a + r.overproduction_s, 0)])
      .sort((a, b) => b[1] - a[1]);
    const worst = byTeam.length && byTeam[0][1] > 0 ? ` Most in ${byTeam[0][0]} (${duration(byTeam[0][1])}).` : "";
    // every hour and team with capacity data is a point of this chart (most are zero)
    done(fig, data.capacity.rows.length,
      `Overproduction over the period ${duration(total)}.${worst}`);
  }

  function drawBacklog(fig, data) {
    const rows = data.backlog.rows;
    const bands = data.backlog.bands;
    const total = rows.reduce((a, r) => a + r.open_interactions, 0);
    if (!total) return done(fig, 0, "Nothing open.");
    const channels = CHANNELS.filter((c) => rows.some((r) => r.channel === c))
      .concat([...new Set(rows.map((r) => r.channel))].filter((c) => !CHANNELS.includes(c)));
    const { svg, width, height } = frame(fig, 250);
    const m = { l: 46, r: 16, t: 30, b: 34 };
    const top = m.t, bottom = height - m.b, left = m.l, right = width - m.r;
    const sums = bands.map((b) => data.backlog.by_band[b] || 0);
    const max = niceMax(Math.max(...sums));
    gridLines(svg, left, right, top, bottom, max, 4);
    yAxis(svg, left, top, bottom, max, 4, (v) => num(+v.toFixed(1)));
    const band = (right - left) / bands.length;
    const bw = Math.min(90, band * 0.55);
    const y = (v) => bottom - ((bottom - top) * v) / max;
    let points = 0;
    bands.forEach((b, i) => {
      const cx = left + band * i + band / 2;
      let base = 0;
      for (const c of channels) {
        const r = rows.find((q) => q.age_band === b && q.channel === c);
        if (!r || !r.open_interactions) continue;
        const v = r.open_interactions;
        tip(h("rect", { x: cx - bw / 2, y: y(base + v), width: bw, height: y(base) - y(base + v), fill: colorFor(CHANNELS, c) }, svg), `${b}: ${num(v)} open on ${c}`);
        base += v;
        points++;
      }
      h("text", { x: cx, y: y(base) - 5, "text-anchor": "middle", class: "label" }, svg, num(sums[i]));
      h("text", { x: cx, y: bottom + 16, "text-anchor": "middle", class: "label", fill: b === ">24h" ? "#c0392b" : null }, svg, b === ">24h" ? ">24h (aged)" : b);
    });
    h("line", { x1: left, x2: right, y1: bottom, y2: bottom, stroke: "#9aa5b1" }, svg);
    legend(svg, channels.map((c) => [c, colorFor(CHANNELS, c)]), left, 14);
    done(fig, points, `${num(total)} open now; ${num(data.backlog.by_band[">24h"] || 0)} waiting more than 24 h.`);
  }

  function sentimentColor(s) {
    if (s === null || s === undefined) return "#eef0f3";
    return s < 0 ? mix("#f4f4f4", "#c0392b", -s) : mix("#f4f4f4", "#2e8b57", s);
  }

  function drawSentiment(fig, data) {
    const rows = data.sentiment.rows;
    if (!rows.length) return done(fig, 0);
    const sources = data.sentiment.sources.filter((s) => rows.some((r) => r.source === s));
    const teams = data.sentiment.teams.slice();
    if (rows.some((r) => r.team === null)) teams.push(null);
    const rowH = 30;
    const m = { l: 118, r: 12, t: 24, b: 34 };
    const { svg, width } = frame(fig, m.t + rowH * sources.length + m.b);
    const left = m.l, right = width - m.r;
    const cw = (right - left) / teams.length;
    teams.forEach((t, j) => {
      h("text", { x: left + cw * j + cw / 2, y: m.t - 8, "text-anchor": "middle", class: "label" }, svg, t === null ? "not routed" : t);
    });
    let points = 0;
    sources.forEach((s, i) => {
      const yy = m.t + rowH * i;
      h("text", { x: left - 8, y: yy + rowH / 2 + 4, "text-anchor": "end", class: "label" }, svg, s.replace(/_/g, " "));
      teams.forEach((t, j) => {
        const r = rows.find((q) => q.source === s && q.team === t);
        const fill = r ? sentimentColor(r.avg_sentiment) : "#fafbfc";
        const cell = h("rect", { x: left + cw * j + 1, y: yy + 1, width: cw - 2, height: rowH - 2, rx: 3, fill }, svg);
        if (!r) return;
        points++;
        tip(cell, `${s} → ${t || "not routed"}: ${num(r.feedback_count)} feedback, average sentiment ${r.avg_sentiment === null ? "–" : r.avg_sentiment.toFixed(2)}, ${pct(r.negative_share, 0)} negative` + (r.ideas ? `, ${num(r.ideas)} ideas with ${num(r.idea_votes)} net votes` : ""));
        const txt = (r.avg_sentiment === null ? "–" : (r.avg_sentiment > 0 ? "+" : "") + r.avg_sentiment.toFixed(2)) + `  n=${num(r.feedback_count)}`;
        h("text", { x: left + cw * j + cw / 2, y: yy + rowH / 2 + 4, "text-anchor": "middle", class: "label", fill: inkOn(fill) }, svg, txt);
      });
    });
    const ly = m.t + rowH * sources.length + 16;
    const lg = h("g", { class: "legend" }, svg);
    for (let k = 0; k <= 40; k++) {
      h("rect", { x: left + k * 4, y: ly, width: 4.5, height: 9, fill: sentimentColor(-1 + k / 20) }, lg);
    }
    h("text", { x: left - 6, y: ly + 8, "text-anchor": "end", class: "small" }, lg, "−1");
    h("text", { x: left + 170, y: ly + 8, class: "small" }, lg, "+1  average sentiment");
    const n = rows.reduce((a, r) => a + r.feedback_count, 0);
    done(fig, points, `${num(n)} pieces of feedback in the period.`);
  }

  function drawTiles(data) {
    const t = data.headline;
    const box = document.getElementById("tiles");
    box.textContent = "";
    const tiles = [
      ["Contacts", num(t.contacts), "started in the period"],
      ["First contact resolution", pct(t.fcr_rate), "resolved at once, no repeat"],
      ["Failure demand", pct(t.failure_demand_rate), "repeats within 7 days"],
      ["Flow efficiency", pct(t.flow_efficiency), "value-added ÷ lead time"],
      ["Abandonment", pct(t.abandonment_rate), "customers who gave up"],
      ["Occupancy", pct(t.occupancy), `target ${pct(data.target_occupancy, 0)}`],
      ["Overproduction", duration(t.overproduction_s), "idle beyond target"],
      ["Open backlog", num(t.open_interactions), `${num(data.backlog.by_band[">24h"] || 0)} older than 24 h`],
    ];
    for (const [name, value, sub] of tiles) {
      const d = html("div", { class: "tile" }, box);
      html("div", { class: "label" }, d, name);
      html("div", { class: "value" }, d, value);
      html("div", { class: "sub" }, d, sub);
    }
  }

  function drawCosts(data) {
    const body = document.querySelector("#costs tbody");
    body.textContent = "";
    const words = Object.fromEntries(data.pareto.rows.map((r) => [r.waste_type, r.words]));
    for (const [w, s] of Object.entries(data.cost_seconds)) {
      const tr = html("tr", {}, body);
      html("td", {}, tr, label(w));
      html("td", {}, tr, words[w] || "");
      html("td", {}, tr, w === "waiting" || w === "overproduction" ? "1 s per second" : `${num(s)} s each`);
    }
  }

  function chart(name) { return document.querySelector(`figure[data-chart="${name}"]`); }

  function drawAll(data) {
    const days = data.daily.map((d) => d.day);
    const safe = (name, fn) => {
      try { fn(); } catch (e) { done(chart(name), 0, "could not draw: " + e.message); console.error(e); }
    };
    drawTiles(data);
    drawCosts(data);
    safe("pareto", () => drawPareto(chart("pareto"), data.pareto));
    safe("flow_efficiency", () => drawLines(chart("flow_efficiency"), days, [
      { name: "flow efficiency", color: "#4e79a7", values: data.daily.map((d) => d.flow_efficiency),
        extra: (i) => `${duration(data.daily[i].value_added_s)} value-added of ${duration(data.daily[i].lead_time_s)} lead time` },
    ], { note: () => `Over the period: ${pct(data.headline.flow_efficiency)} of the lead time added value.` }));
    safe("fcr_failure_demand", () => drawLines(chart("fcr_failure_demand"), days, [
      { name: "first contact resolution", color: "#2e8b57", values: data.daily.map((d) => d.fcr_rate),
        extra: (i) => `${num(data.daily[i].fcr)} of ${num(data.daily[i].contacts)} contacts` },
      { name: "failure demand", color: "#c0392b", values: data.daily.map((d) => d.failure_demand_rate),
        extra: (i) => `${num(data.daily[i].failure_demand)} of ${num(data.daily[i].contacts)} contacts` },
    ], { max: 1, note: () => `Over the period: FCR ${pct(data.headline.fcr_rate)}, failure demand ${pct(data.headline.failure_demand_rate)}.` }));
    safe("occupancy", () => drawOccupancy(chart("occupancy"), data));
    safe("overproduction", () => drawOverproduction(chart("overproduction"), data));
    safe("backlog", () => drawBacklog(chart("backlog"), data));
    safe("sentiment", () => drawSentiment(chart("sentiment"), data));
  }

  // ---------------------------------------------------------------- data and refresh
  function scopeParams() {
    const p = new URLSearchParams();
    if (page.get("from") || page.get("to")) {
      for (const k of ["from", "to"]) if (page.get(k)) p.set(k, page.get(k));
    } else {
      const days = Math.max(1, Math.min(92, Number(page.get("days")) || 7));
      const end = midnight(Date.now()) + DAY_MS;
      p.set("from", utcDay(new Date(end - days * DAY_MS)));
      p.set("to", utcDay(new Date(end)));
    }
    for (const k of ["channel", "reason", "team"]) for (const v of page.getAll(k)) if (v) p.append(k, v);
    return p;
  }

  async function getJson(url) {
    const token = storedToken();
    if (!token) throw new AccessError(401, "no token yet");
    const res = await fetch(url, { cache: "no-store", headers: { Authorization: `Bearer ${token}` } });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401 || res.status === 403) {
      throw new AccessError(res.status, body.message || `${res.status} ${res.statusText}`);
    }
    if (!res.ok) throw new Error(body.message || `${res.status} ${res.statusText}`);
    return body;
  }

  function askForToken(message, isError) {
    const form = document.getElementById("token-form");
    form.hidden = false;
    setStatus(message, isError);
    form.token.focus();
  }

  function accessRefused(e) {
    document.getElementById("forget-token").hidden = !storedToken();
    if (e.status === 403) {
      document.body.dataset.auth = "forbidden";
      askForToken(`Not allowed: ${e.message}. Ask for a token with that scope, or enter another.`, true);
    } else if (!storedToken()) {
      document.body.dataset.auth = "needed";
      askForToken("Enter an operations token (scope waste:read) to see the figures.", false);
    } else {
      storeToken(null);
      document.getElementById("forget-token").hidden = true;
      document.body.dataset.auth = "refused";
      askForToken(`The token was refused: ${e.message}. Enter another.`, true);
    }
  }

  function setStatus(text, isError) {
    const s = document.getElementById("status");
    s.textContent = text;
    s.classList.toggle("error", !!isError);
  }

  function syncTeams(data) {
    for (const t of data.capacity.teams) state.teams.add(t);
    const sel = document.querySelector("select[name=team]");
    const have = new Set([...sel.options].map((o) => o.value));
    for (const t of [...state.teams].sort()) {
      if (!have.has(t)) html("option", { value: t }, sel, t);
    }
    sel.value = page.get("team") || "";
  }

  async function refresh() {
    clearTimeout(state.timer);
    if (!storedToken()) {
      accessRefused(new AccessError(401, "no token yet"));
      return;
    }
    try {
      const [data, lag] = await Promise.all([
        getJson("api/v1/summary?" + scopeParams().toString()),
        getJson("api/v1/lag").catch(() => null),
      ]);
      state.last = data;
      document.dispatchEvent(new CustomEvent("leancrm:summary", { detail: data })); // signals.js
      syncTeams(data);
      drawAll(data);
      const f = data.filters;
      const lagText = lag ? ` · projector lag ${num(lag.total)} event${lag.total === 1 ? "" : "s"}` +
        (Object.keys(lag.partitions).length ? ` over ${Object.keys(lag.partitions).length} partitions` : "") : "";
      setStatus(`Updated ${data.generated_at.slice(11, 19)} UTC · ${f.from.slice(0, 10)} to ${f.to.slice(0, 16).replace("T", " ")} UTC` +
        (f.channel ? ` · ${f.channel.join(", ")}` : "") + (f.team ? ` · team ${f.team.join(", ")}` : "") + lagText +
        (state.paused ? " · paused" : ` · refreshing every ${state.refreshMs / 1000} s`));
      document.body.dataset.loaded = "true";
      document.body.dataset.auth = "ok";
      document.getElementById("token-form").hidden = true;
      document.getElementById("forget-token").hidden = false;
    } catch (e) {
      if (e instanceof AccessError) {
        accessRefused(e);
        return; // nothing to refresh until a token is given
      }
      setStatus(`Cannot read the figures: ${e.message}. Retrying in ${state.refreshMs / 1000} s.`, true);
    }
    if (!state.paused) state.timer = setTimeout(refresh, state.refreshMs);
  }

  function wireControls() {
    const form = document.getElementById("controls");
    form.days.value = page.get("days") || "7";
    form.channel.value = page.get("channel") || "";
    form.paused.checked = page.get("paused") === "1";
    state.paused = form.paused.checked;
    if (page.get("from") || page.get("to")) {
      const o = html("option", { value: "fixed" }, form.days, `${page.get("from") || "…"} to ${page.get("to") || "…"}`);
      o.selected = true;
    }
    form.addEventListener("change", () => {
      for (const k of ["days", "channel", "team"]) {
        const v = form[k].value;
        if (v && v !== "fixed") page.set(k, v); else if (v !== "fixed") page.delete(k);
      }
      if (form.days.value !== "fixed") { page.delete("from"); page.delete("to"); }
      state.paused = form.paused.checked;
      if (state.paused) page.set("paused", "1"); else page.delete("paused");
      const qs = page.toString();
      window.history.replaceState(null, "", window.location.pathname + (qs ? "?" + qs : ""));
      refresh();
    });
    let resize = null;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(() => { if (state.last) drawAll(state.last); }, 150);
    });
  }

  function wireToken() {
    const form = document.getElementById("token-form");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const t = form.token.value.trim();
      form.token.value = "";
      if (!t) return;
      storeToken(t);
      form.hidden = true;
      setStatus("loading…", false);
      refresh();
    });
    document.getElementById("forget-token").addEventListener("click", () => {
      storeToken(null);
      clearTimeout(state.timer);
      accessRefused(new AccessError(401, "forgotten"));
    });
  }

  takeTokenFromAddress();
  wireControls();
  wireToken();
  refresh();
})();
