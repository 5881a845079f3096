// Lean CRM waste walk, issue 14: service level per channel and hour, demand by type per
// reason, and lead-time percentiles per reason — read from the generic view endpoints
// (/api/v1/service_level_hourly, demand_daily, lead_time_daily; contract section 6) with
// the token and the period dashboard.js keeps (sessionStorage and the address), drawn as
// inline SVG like the rest, refreshed with the page's period and on every control change.
// Each chart is a <figure data-chart="name">; drawn with data it carries data-drawn="true"
// and data-points="<number of data points drawn>".
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const TOKEN_KEY = "leancrm.operations_token";
  const DAY_MS = 86400000;
  const HOUR_MS = 3600000;
  const CHANNELS = ["phone", "chat", "email", "sms", "social", "web_self_service", "community", "bot"];
  const VALUE = "#4e79a7", FAILURE = "#e15759";
  const PCTL = [["p50_lead_time_s", "p50", "#59a14f"], ["p85_lead_time_s", "p85", "#f28e2b"],
    ["p95_lead_time_s", "p95", "#e15759"]];
  let timer = null;

  function h(tag, attrs, parent, text) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    if (parent) parent.appendChild(el);
    return el;
  }
  function tip(node, text) { h("title", {}, node, text); return node; }
  function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %"; }
  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 120) return `${Math.round(s)} s`;
    if (s < 7200) return `${(s / 60).toFixed(1)} min`;
    if (s < 2 * 86400) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} d`;
  }
  function mix(c1, c2, t) {
    const a = parseInt(c1.slice(1), 16), b = parseInt(c2.slice(1), 16);
    const ch = (x, s) => (x >> s) & 255;
    const m = (s) => Math.round(ch(a, s) + (ch(b, s) - ch(a, s)) * Math.max(0, Math.min(1, t)));
    return "#" + ((1 << 24) + (m(16) << 16) + (m(8) << 8) + m(0)).toString(16).slice(1);
  }
  function levelColor(sl) {
    if (sl === null || sl === undefined) return "#e5e7eb";
    return sl >= 0.8 ? mix("#a7d7b8", "#2e8b57", (sl - 0.8) / 0.2) : mix("#c0392b", "#f6c28b", sl / 0.8);
  }

  function chart(name) { return document.querySelector(`figure[data-chart="${name}"]`); }
  function frame(fig, height) {
    const plot = fig.querySelector(".plot");
    plot.textContent = "";
    const width = Math.max(320, Math.floor(plot.clientWidth || 600));
    const svg = h("svg", { viewBox: `0 0 ${width} ${height}`, width: width, height: height,
      role: "img", "aria-label": fig.querySelector("h2").textContent }, plot);
    return { svg, width };
  }
  function done(fig, points, note) {
    fig.dataset.drawn = points > 0 ? "true" : "false";
    fig.dataset.points = String(points);
    fig.querySelector(".note").textContent = note || "";
    if (points === 0) {
      const plot = fig.querySelector(".plot");
      plot.textContent = "";
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = "No data in this period yet.";
      plot.appendChild(p);
    }
  }

  // ---------------------------------------------------------------- the period and the data
  function period() {
    const page = new URLSearchParams(window.location.search);
    let from, to;
    if (page.get("from") || page.get("to")) {
      from = page.get("from") ? Date.parse(page.get("from")) : Date.now() - 7 * DAY_MS;
      to = page.get("to") ? Date.parse(page.get("to")) : Date.now() + DAY_MS;
    } else {
      const days = Math.max(1, Math.min(92, Number(page.get("days")) || 7));
      to = Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS;
      from = to - days * DAY_MS;
    }
    return { from, to, channels: page.getAll("channel").filter(Boolean) };
  }

  async function rowsOf(view, params) {
    let token = null;
    try { token = window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { token = null; }
    if (!token) return null;
    const rows = [];
    let offset = 0;
    for (let page = 0; page < 20; page++) {
      const q = new URLSearchParams(params);
      q.set("limit", "5000");
      q.set("offset", String(offset));
      const res = await fetch(`api/v1/${view}?${q}`, { cache: "no-store",
        headers: { Authorization: `Bearer ${token}` } });
      if (!res.ok) return null; // dashboard.js reports access and errors
      const body = await res.json();
      rows.push(...body.rows);
      if (!body.more || body.next_offset === null) break;
      offset = body.next_offset;
    }
    return rows;
  }

  // ---------------------------------------------------------------- service level per channel and hour
  function drawServiceLevel(fig, rows, p) {
    const hours = [];
    for (let t = p.from; t < p.to && hours.length < 92 * 24; t += HOUR_MS) hours.push(t);
    const channels = CHANNELS.filter((c) => rows.some((r) => r.channel === c && r.offered > 0));
    if (!channels.length || !hours.length) return done(fig, 0);
    const rowH = 22, m = { l: 110, r: 12, t: 8, b: 50 };
    const { svg, width } = frame(fig, m.t + rowH * channels.length + m.b);
    const left = m.l, right = width - m.r, cell = (right - left) / hours.length;
    const bottom = m.t + rowH * channels.length;
    const index = new Map(hours.map((t, i) => [t, i]));
    const totals = new Map();
    channels.forEach((c, j) => {
      h("text", { x: left - 8, y: m.t + rowH * j + rowH / 2 + 4, "text-anchor": "end", class: "label" }, svg, c);
      h("rect", { x: left, y: m.t + rowH * j, width: right - left, height: rowH - 2, fill: "#fafbfc" }, svg);
    });
    let points = 0;
    for (const r of rows) {
      const i = index.get(Date.parse(r.bucket_start));
      const j = channels.indexOf(r.channel);
      if (i === undefined || j < 0 || !r.offered) continue;
      points++;
      const t = totals.get(r.channel) || { within: 0, offered: 0, threshold: r.threshold_s };
      if (r.threshold_s !== null) { t.within += r.answered_within_threshold; t.offered += r.offered; }
      totals.set(r.channel, t);
      const c = h("rect", { x: left + cell * i, y: m.t + rowH * j, width: Math.max(1, cell - (cell > 4 ? 0.6 : 0)),
        height: rowH - 2, fill: levelColor(r.service_level) }, svg);
      tip(c, `${r.channel} · ${r.bucket_start.slice(0, 13).replace("T", " ")}:00 UTC\n` +
        `service level ${pct(r.service_level)} (answered within ${duration(r.threshold_s)}: ` +
        `${r.answered_within_threshold ?? "–"} of ${r.offered} offered)\n` +
        `speed of answer: mean ${duration(r.avg_speed_of_answer_s)}, p90 ${duration(r.p90_speed_of_answer_s)}`);
    }
    const g = h("g", { class: "axis" }, svg);
    const step = Math.max(1, Math.ceil(hours.length / Math.max(1, Math.floor((right - left) / 70))));
    hours.forEach((t, i) => {
      const d = new Date(t);
      if (i % step) return;
      h("line", { x1: left + cell * i, x2: left + cell * i, y1: bottom, y2: bottom + 4 }, g);
      h("text", { x: left + cell * i, y: bottom + 16, "text-anchor": "start" }, g,
        d.getUTCHours() === 0 || hours.length <= 24 ? d.toISOString().slice(5, 13).replace("T", " ") + "h"
          : d.toISOString().slice(11, 13) + "h");
    });
    const lg = h("g", { class: "legend" }, svg);
    const ly = bottom + 28;
    [[0.4, "under 80 %"], [0.85, "80 % or more"], [null, "no threshold"]].forEach(([v, text], k) => {
      h("rect", { x: left + k * 130, y: ly, width: 12, height: 9, fill: levelColor(v) }, lg);
      h("text", { x: left + k * 130 + 16, y: ly + 8, class: "small" }, lg, text);
    });
    const summary = channels.filter((c) => totals.get(c) && totals.get(c).offered)
      .map((c) => `${c} ${pct(totals.get(c).within / totals.get(c).offered)} within ${duration(totals.get(c).threshold)}`);
    done(fig, points, summary.length ? `Over the period: ${summary.join(" · ")}.` : "");
  }

  // ---------------------------------------------------------------- demand by type per reason
  function drawDemand(fig, rows) {
    const by = new Map();
    for (const r of rows) {
      const d = by.get(r.reason) || { value: 0, failure: 0 };
      d.value += r.value_demand; d.failure += r.failure_demand;
      by.set(r.reason, d);
    }
    const reasons = [...by.keys()].sort((a, b) => (by.get(b).value + by.get(b).failure) - (by.get(a).value + by.get(a).failure));
    if (!reasons.length) return done(fig, 0);
    const rowH = 22, m = { l: 120, r: 60, t: 8, b: 30 };
    const { svg, width } = frame(fig, m.t + rowH * reasons.length + m.b);
    const left = m.l, right = width - m.r;
    const max = Math.max(...reasons.map((k) => by.get(k).value + by.get(k).failure), 1);
    const x = (v) => left + ((right - left) * v) / max;
    let value = 0, failure = 0;
    reasons.forEach((k, j) => {
      const d = by.get(k), y = m.t + rowH * j;
      value += d.value; failure += d.failure;
      h("text", { x: left - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "label" }, svg, k);
      tip(h("rect", { x: left, y, width: x(d.value) - left, height: rowH - 4, fill: VALUE }, svg),
        `${k}: value demand ${d.value}`);
      tip(h("rect", { x: x(d.value), y, width: x(d.value + d.failure) - x(d.value), height: rowH - 4, fill: FAILURE }, svg),
        `${k}: failure demand ${d.failure} (${pct(d.failure / (d.value + d.failure))})`);
      h("text", { x: x(d.value + d.failure) + 4, y: y + rowH / 2 + 3, class: "small" }, svg,
        pct(d.failure / (d.value + d.failure)));
    });
    const lg = h("g", { class: "legend" }, svg), ly = m.t + rowH * reasons.length + 10;
    [[VALUE, "value demand"], [FAILURE, "failure demand (a repeat within 7 days)"]].forEach(([c, text], k) => {
      h("rect", { x: left + k * 130, y: ly, width: 12, height: 9, fill: c }, lg);
      h("text", { x: left + k * 130 + 16, y: ly + 8, class: "small" }, lg, text);
    });
    done(fig, reasons.length, `Over the period: ${value + failure} contacts, failure demand ${pct(failure / Math.max(1, value + failure))}.`);
  }

  // ---------------------------------------------------------------- lead-time percentiles per reason
  function drawLeadTimes(fig, rows) {
    const latest = new Map();
    for (const r of rows) if (!latest.has(r.reason) || latest.get(r.reason).day < r.day) latest.set(r.reason, r);
    const reasons = [...latest.keys()].sort((a, b) => latest.get(b).p85_lead_time_s - latest.get(a).p85_lead_time_s);
    if (!reasons.length) return done(fig, 0);
    const rowH = 22, m = { l: 120, r: 16, t: 8, b: 46 };
    const { svg, width } = frame(fig, m.t + rowH * reasons.length + m.b);
    const left = m.l, right = width - m.r, bottom = m.t + rowH * reasons.length;
    // a log scale: lead times run from seconds to days
    const lo = Math.max(1, Math.min(...reasons.map((k) => latest.get(k).p50_lead_time_s || 1)));
    const hi = Math.max(lo * 10, ...reasons.map((k) => latest.get(k).p95_lead_time_s));
    const x = (v) => left + ((right - left) * (Math.log(Math.max(v, lo)) - Math.log(lo))) / (Math.log(hi) - Math.log(lo));
    let points = 0;
    reasons.forEach((k, j) => {
      const r = latest.get(k), y = m.t + rowH * j + rowH / 2;
      h("text", { x: left - 8, y: y + 4, "text-anchor": "end", class: "label" }, svg, k);
      h("line", { x1: x(r.p50_lead_time_s), x2: x(r.p95_lead_time_s), y1: y, y2: y, stroke: "#bab0ac", "stroke-width": 2 }, svg);
      for (const [col, name, color] of PCTL) {
        points++;
        tip(h("circle", { cx: x(r[col]), cy: y, r: 5, fill: color }, svg),
          `${k} · ended ${r.day}: ${name} ${duration(r[col])} (${r.ended_interactions} ended)`);
      }
    });
    const g = h("g", { class: "axis" }, svg);
    for (const t of [1, 10, 60, 600, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400]) {
      if (t < lo || t > hi) continue;
      h("line", { x1: x(t), x2: x(t), y1: bottom, y2: bottom + 4 }, g);
      h("text", { x: x(t), y: bottom + 16, "text-anchor": "middle" }, g, duration(t));
    }
    const lg = h("g", { class: "legend" }, svg);
    PCTL.forEach(([, name, color], k) => {
      h("circle", { cx: left + k * 70 + 5, cy: bottom + 33, r: 5, fill: color }, lg);
      h("text", { x: left + k * 70 + 14, y: bottom + 37, class: "small" }, lg, name);
    });
    const days = [...new Set(reasons.map((k) => latest.get(k).day))].sort();
    done(fig, points, `Per reason, the latest day with ended contacts (${days.length === 1 ? days[0] : days[0] + " to " + days[days.length - 1]}); log scale.`);
  }

  // ---------------------------------------------------------------- refresh
  async function refresh() {
    clearTimeout(timer);
    const p = period();
    const base = new URLSearchParams({ from: new Date(p.from).toISOString(), to: new Date(p.to).toISOString() });
    const withChannel = new URLSearchParams(base);
    for (const c of p.channels) withChannel.append("channel", c);
    try {
      const [sl, demand, leads] = await Promise.all([
        rowsOf("service_level_hourly", withChannel), rowsOf("demand_daily", withChannel),
        rowsOf("lead_time_daily", base)]);
      const safe = (name, fn) => {
        try { fn(); } catch (e) { chart(name).querySelector(".note").textContent = `Cannot draw: ${e.message}`; }
      };
      if (sl) safe("service_level", () => drawServiceLevel(chart("service_level"), sl, p));
      if (demand) safe("demand_by_type", () => drawDemand(chart("demand_by_type"), demand));
      if (leads) safe("lead_times", () => drawLeadTimes(chart("lead_times"), leads));
    } catch (e) {
      // the page's own status line reports a read model that cannot be reached
    }
    const page = new URLSearchParams(window.location.search);
    const every = Math.max(5000, 1000 * 3 * (Number(page.get("refresh")) || 5));
    if (page.get("paused") !== "1") timer = setTimeout(refresh, every);
  }

  function wire() {
    const controls = document.getElementById("controls");
    // dashboard.js updates the address on a change first (its listener was added first)
    if (controls) controls.addEventListener("change", () => setTimeout(refresh, 0));
    const token = document.getElementById("token-form");
    if (token) token.addEventListener("submit", () => setTimeout(refresh, 0));
  }

  wire();
  refresh();
})();
