// Lean CRM waste walk, issue 14: service level per channel and hour (the view
// /api/v1/service_level_hourly, contract section 6), demand by type per reason and the
// lead-time distribution per reason over the whole period (/api/v1/demand and
// /api/v1/lead-times, contract section 6.2: percentiles of days do not combine, so the
// server takes them over the period's own contacts) with the token and the period
// dashboard.js keeps (sessionStorage and the address), drawn as inline SVG like the rest,
// refreshed with the page's period and on every control change. The two period charts
// carry data-from and data-to (the period the server answered for) and data-reasons.
// Each chart is a <figure data-chart="name">; drawn with data it carries data-drawn="true"
// and data-points="<number of data points drawn>".
// Period and filters: those of the summary dashboard.js last read (its "leancrm:summary"
// event: the period as the server resolved it in the business time zone, channel,
// reason, team); a filter a chart cannot be cut by is said above it (.not-by and
// data-not-by), and a request the API refused ("leancrm:refused") empties the charts.
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
  let summary = null; // the last summary dashboard.js read: its filters
  let drawnFor = "";
  //: chart -> filter -> why it is not cut by it
  const NOT_BY = {
    service_level: { reason: "not by reason: service level is counted per channel and hour",
      team: "not by team: service level is counted per channel and hour" },
    // over the period's own contacts (/api/v1/demand, /api/v1/lead-times): cut by every filter
    demand_by_type: {},
    lead_times: {},
  };

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
    if (summary) {
      const f = summary.filters;
      return { from: Date.parse(f.from), to: Date.parse(f.to), channels: f.channel || [],
        reasons: f.reason || [], teams: f.team || [] };
    }
    return fallbackPeriod();
  }

  function fallbackPeriod() {
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
    return { from, to, channels: page.getAll("channel").filter(Boolean),
      reasons: page.getAll("reason").filter(Boolean), teams: page.getAll("team").filter(Boolean) };
  }

  function markNotBy(p) {
    const active = { channel: p.channels.length, reason: p.reasons.length, team: p.teams.length };
    for (const [name, why] of Object.entries(NOT_BY)) {
      const fig = chart(name);
      const keys = Object.keys(why).filter((k) => active[k]);
      fig.dataset.notBy = keys.join(" ");
      let note = fig.querySelector(".not-by");
      if (!note) {
        note = document.createElement("p");
        note.className = "not-by";
        fig.insertBefore(note, fig.querySelector(".plot"));
      }
      note.textContent = keys.map((k) => why[k].charAt(0).toUpperCase() + why[k].slice(1) + ".").join(" ");
      note.hidden = !keys.length;
    }
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

  // one answer of an endpoint over a period (contract section 6.2); null when refused
  async function bodyOf(path, params) {
    let token = null;
    try { token = window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { token = null; }
    if (!token) return null;
    const res = await fetch(`api/v1/${path}?${params}`, { cache: "no-store",
      headers: { Authorization: `Bearer ${token}` } });
    if (!res.ok) return null; // dashboard.js reports access and errors
    return res.json();
  }

  // the period and every filter the page has (channel, reason, team) for the period endpoints
  function periodParams(p) {
    const page = new URLSearchParams(window.location.search);
    const q = new URLSearchParams({ from: new Date(p.from).toISOString(), to: new Date(p.to).toISOString() });
    for (const [name, values] of [["channel", p.channels], ["reason", p.reasons || page.getAll("reason")],
      ["team", p.teams || page.getAll("team")]]) {
      for (const v of values || []) if (v) q.append(name, v);
    }
    return q;
  }

  function markPeriod(fig, body, reasons) {
    fig.dataset.from = body.from;
    fig.dataset.to = body.to;
    fig.dataset.reasons = String(reasons);
  }
  function periodWords(body) {
    const from = body.from.slice(0, 10);
    const last = new Date(Date.parse(body.to) - 1).toISOString().slice(0, 10);
    return from === last ? from : `${from} to ${last}`;
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
  // body: /api/v1/demand over the period (by_reason, most contacts first; total)
  function drawDemand(fig, body) {
    const rows = body.by_reason.filter((r) => r.contacts > 0);
    markPeriod(fig, body, rows.length);
    if (!rows.length) return done(fig, 0);
    const rowH = 22, m = { l: 120, r: 60, t: 8, b: 30 };
    const { svg, width } = frame(fig, m.t + rowH * rows.length + m.b);
    const left = m.l, right = width - m.r;
    const max = Math.max(...rows.map((r) => r.contacts), 1);
    const x = (v) => left + ((right - left) * v) / max;
    rows.forEach((d, j) => {
      const k = d.reason, y = m.t + rowH * j;
      h("text", { x: left - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "label" }, svg, k);
      tip(h("rect", { x: left, y, width: x(d.value_demand) - left, height: rowH - 4, fill: VALUE, class: "value-demand" }, svg),
        `${k}: value demand ${d.value_demand} of ${d.contacts}`);
      tip(h("rect", { x: x(d.value_demand), y, width: x(d.contacts) - x(d.value_demand), height: rowH - 4, fill: FAILURE,
        class: "failure-demand" }, svg),
        `${k}: failure demand ${d.failure_demand} of ${d.contacts} (${pct(d.failure_demand_share)})`);
      h("text", { x: x(d.contacts) + 4, y: y + rowH / 2 + 3, class: "small" }, svg, pct(d.failure_demand_share));
    });
    const lg = h("g", { class: "legend" }, svg), ly = m.t + rowH * rows.length + 10;
    [[VALUE, "value demand"], [FAILURE, "failure demand (a repeat within 7 days)"]].forEach(([c, text], k) => {
      h("rect", { x: left + k * 130, y: ly, width: 12, height: 9, fill: c }, lg);
      h("text", { x: left + k * 130 + 16, y: ly + 8, class: "small" }, lg, text);
    });
    const t = body.total;
    done(fig, rows.length, `Started ${periodWords(body)}: ${t.contacts} contacts, failure demand ` +
      `${t.failure_demand} (${pct(t.failure_demand_share)}).`);
  }

  // ---------------------------------------------------------------- lead-time distribution per reason
  // body: /api/v1/lead-times over the period (by_reason, p85 longest first; overall; buckets)
  function drawLeadTimes(fig, body) {
    const rows = body.by_reason.filter((r) => r.ended_interactions > 0);
    markPeriod(fig, body, rows.length);
    if (!rows.length) return done(fig, 0, body.open ? `${body.open} contacts still open: no lead time yet.` : "");
    const all = { reason: "all reasons", ...body.overall };
    const lines = rows.length > 1 ? [all, ...rows] : rows;
    const rowH = 22, histH = 64, m = { l: 120, r: 70, t: 8, b: 46 };
    const { svg, width } = frame(fig, m.t + rowH * lines.length + m.b + histH);
    const left = m.l, right = width - m.r, bottom = m.t + rowH * lines.length;
    // a log scale: lead times run from seconds to days
    const lo = Math.max(1, Math.min(...lines.map((r) => r.p50_lead_time_s || 1)));
    const hi = Math.max(lo * 10, ...lines.map((r) => r.p95_lead_time_s));
    const x = (v) => left + ((right - left) * (Math.log(Math.max(v, lo)) - Math.log(lo))) / (Math.log(hi) - Math.log(lo));
    let points = 0;
    lines.forEach((r, j) => {
      const y = m.t + rowH * j + rowH / 2;
      h("text", { x: left - 8, y: y + 4, "text-anchor": "end", class: r === all ? "label total" : "label" }, svg, r.reason);
      h("line", { x1: x(r.p50_lead_time_s), x2: x(r.p95_lead_time_s), y1: y, y2: y, stroke: "#bab0ac", "stroke-width": 2 }, svg);
      const hist = body.buckets.map((b) => `${b} ${r.histogram[b]}`).join(", ");
      for (const [col, name, color] of PCTL) {
        if (r !== all) points++;
        tip(h("circle", { cx: x(r[col]), cy: y, r: 5, fill: color, class: `percentile ${name}` }, svg),
          `${r.reason}, ended ${periodWords(body)}: ${name} ${duration(r[col])} ` +
          `(${r.ended_interactions} ended; ${hist})`);
      }
      h("text", { x: right + 8, y: y + 4, class: "small" }, svg, `${r.ended_interactions} ended`);
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
    // the histogram of every reason's lead times in the fixed buckets
    const hy = bottom + m.b, n = Math.max(1, ...body.buckets.map((b) => body.overall.histogram[b]));
    const bw = (right - left) / body.buckets.length;
    h("text", { x: left - 8, y: hy + histH / 2, "text-anchor": "end", class: "label" }, svg, "how many");
    body.buckets.forEach((b, k) => {
      const c = body.overall.histogram[b], bh = ((histH - 26) * c) / n;
      tip(h("rect", { x: left + bw * k + 4, y: hy + histH - 16 - bh, width: bw - 8, height: bh, fill: "#76b7b2",
        class: "bucket" }, svg), `lead time ${b}: ${c} of ${body.overall.ended_interactions} ended`);
      h("text", { x: left + bw * k + bw / 2, y: hy + histH - 16 - bh - 3, "text-anchor": "middle", class: "small" }, svg, String(c));
      h("text", { x: left + bw * k + bw / 2, y: hy + histH - 3, "text-anchor": "middle", class: "small" }, svg, b);
    });
    const open = body.open ? ` ${body.open} contacts still open have no lead time yet.` : "";
    done(fig, points, `Contacts ended ${periodWords(body)}: ${body.overall.ended_interactions}, p50 ` +
      `${duration(body.overall.p50_lead_time_s)}, p85 ${duration(body.overall.p85_lead_time_s)}, p95 ` +
      `${duration(body.overall.p95_lead_time_s)}; log scale.${open}`);
  }

  // ---------------------------------------------------------------- refresh
  let generation = 0;
  async function refresh() {
    clearTimeout(timer);
    const mine = ++generation; // an older refresh still under way draws nothing
    const p = period();
    const base = new URLSearchParams({ from: new Date(p.from).toISOString(), to: new Date(p.to).toISOString() });
    const withChannel = new URLSearchParams(base);
    for (const c of p.channels) withChannel.append("channel", c);
    markNotBy(p);
    try {
      const [sl, demand, leads] = await Promise.all([
        rowsOf("service_level_hourly", withChannel), bodyOf("demand", periodParams(p)),
        bodyOf("lead-times", periodParams(p))]);
      if (mine !== generation) return;
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
    document.addEventListener("leancrm:summary", (ev) => {
      summary = ev.detail;
      const key = JSON.stringify(summary.filters);
      if (key !== drawnFor) { drawnFor = key; refresh(); } // new period or filters: at once
    });
    document.addEventListener("leancrm:refused", () => {
      clearTimeout(timer);
      generation++; // what is under way draws nothing
      summary = null;
      drawnFor = "";
      for (const name of Object.keys(NOT_BY)) {
        const fig = chart(name);
        done(fig, 0, "Refused: see the message above.");
        fig.querySelector(".plot .empty").textContent = "No figures: the request was refused.";
        const note = fig.querySelector(".not-by");
        if (note) note.hidden = true;
      }
    });
    // a change of the controls or a token given: dashboard.js reads the summary again and
    // sends leancrm:summary, which refreshes these charts with what the server resolved
  }

  wire();
})();
