// Lean CRM waste walk — "Signals, not noise": an XmR process-behaviour chart of each daily
// key rate from /api/v1/signals, drawn as inline SVG below the other charts: the daily
// values, the centre line, the natural process limits (dashed), the baseline days shaded
// and every signal marked in red with the rule it breaks.
// Its own file (the page's Content-Security-Policy allows no inline script); it reads the
// token dashboard.js keeps in sessionStorage and the page's channel, team and to (the
// charts end on the day before "to", or today, and reach 90 days back; ?min_contacts=,
// ?baseline_from=&baseline_to= are passed on). Each chart is a <figure data-signal="rate">
// that carries, once drawn, data-drawn="true", data-points, data-limits (true when the
// baseline gave limits) and data-signals (how many points are signals).
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const TOKEN_KEY = "leancrm.operations_token";
  const DAY_MS = 86400000;
  const RULES = {
    outside_limits: "outside the limits",
    three_of_four: "3 of 4 beyond half-way to a limit",
    eight_on_one_side: "8 in a row on one side of the centre",
  };
  let timer = null;
  let last = null;

  function token() {
    try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }
  function svgEl(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function el(tag, attrs, parent, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(chart, v) {
    if (v === null || v === undefined) return "–";
    if (chart.unit === "seconds") {
      const a = Math.abs(v);
      return a < 60 ? v.toFixed(0) + " s" : a < 3600 ? (v / 60).toFixed(1) + " min" : (v / 3600).toFixed(1) + " h";
    }
    return (100 * v).toFixed(1) + " %";
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function section() {
    let s = document.getElementById("signals");
    if (s) return s;
    s = el("section", { id: "signals", class: "signals", "aria-label": "Signals, not noise" });
    const head = el("div", { class: "signals-head" }, s);
    el("h2", {}, head, "Signals, not noise");
    el("p", { class: "explain", id: "signals-explain" }, head,
      "Each key rate per day on a process-behaviour (XmR) chart. The limits are the centre ± 2.66 × the " +
      "average moving range of a baseline; a point outside them, 3 of 4 beyond half-way to a limit, or 8 in a " +
      "row on one side of the centre is a signal worth asking why. Anything else is normal variation: " +
      "no reason to praise or blame a day.");
    el("div", { class: "grid", id: "signals-grid" }, s);
    const main = document.querySelector("main.grid");
    main.parentNode.insertBefore(s, main.nextSibling);
    return s;
  }

  function figureFor(chart) {
    const grid = document.getElementById("signals-grid");
    let fig = grid.querySelector(`figure[data-signal="${chart.rate}"]`);
    if (!fig) {
      fig = el("figure", { class: "card", "data-signal": chart.rate, "data-drawn": "false" }, grid);
      const cap = el("figcaption", {}, fig);
      el("h2", {}, cap, chart.label);
      el("p", { class: "explain" }, cap, chart.words || "");
      el("div", { class: "plot" }, fig);
      el("p", { class: "note" }, fig);
    }
    return fig;
  }

  function draw(fig, chart) {
    const plot = fig.querySelector(".plot");
    const note = fig.querySelector(".note");
    plot.textContent = "";
    // from the first day with any contacts: the days before would only squeeze the chart
    const all = chart.points || [];
    const start = all.findIndex((p) => p.contacts > 0 || (p.value !== null && p.value !== undefined));
    const pts = start > 0 ? all.slice(start) : all;
    const values = pts.map((p) => p.value).filter((v) => v !== null && v !== undefined);
    fig.dataset.points = String(values.length);
    fig.dataset.limits = chart.limits ? "true" : "false";
    fig.dataset.signals = String((chart.signals || []).length);
    if (!values.length) {
      fig.dataset.drawn = "false";
      el("p", { class: "empty" }, plot, chart.not_applicable || "No day with enough contacts in this period.");
      note.textContent = "";
      return;
    }
    const width = Math.max(320, Math.floor(plot.clientWidth || 560));
    const height = 230;
    const m = { l: 52, r: 14, t: 14, b: 30 };
    const top = m.t, bottom = height - m.b, left = m.l, right = width - m.r;
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": `${chart.label}: XmR chart` }, plot);
    const lim = chart.limits;
    let hi = Math.max(...values, lim ? Math.min(lim.upper, chart.unit === "seconds" ? lim.upper : 1) : 0);
    if (chart.unit !== "seconds") hi = Math.min(1, niceMax(hi * 1.05)); else hi = niceMax(hi * 1.05);
    const x = (i) => (pts.length > 1 ? left + ((right - left) * i) / (pts.length - 1) : (left + right) / 2);
    const y = (v) => bottom - ((bottom - top) * Math.max(0, Math.min(v, hi))) / hi;
    // baseline shading
    const inBase = pts.map((p, i) => (p.in_baseline ? i : -1)).filter((i) => i >= 0);
    if (inBase.length) {
      const x0 = x(inBase[0]) - 3, x1 = x(inBase[inBase.length - 1]) + 3;
      svgEl("title", {}, svgEl("rect", { class: "baseline", x: x0, y: top, width: Math.max(2, x1 - x0),
        height: bottom - top, fill: "#eef3f9" }, svg), "baseline days");
    }
    // axis
    const axis = svgEl("g", { class: "axis" }, svg);
    for (let k = 0; k <= 4; k++) {
      const v = (hi * k) / 4;
      svgEl("line", { x1: left, x2: right, y1: y(v), y2: y(v), stroke: "#eceff3" }, axis);
      svgEl("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, axis, fmt(chart, v));
    }
    const every = Math.max(1, Math.ceil(pts.length / Math.max(2, Math.floor((right - left) / 64))));
    pts.forEach((p, i) => {
      if (i % every === 0 || i === pts.length - 1) {
        svgEl("text", { x: x(i), y: bottom + 16, "text-anchor": "middle" }, axis, String(p.day).slice(5));
      }
    });
    // centre line and limits
    if (lim) {
      const line = (v, cls, color, dash, name) => {
        const g = svgEl("line", { class: cls, x1: left, x2: right, y1: y(v), y2: y(v), stroke: color,
          "stroke-width": cls === "centre" ? 1.6 : 1.4, "stroke-dasharray": dash }, svg);
        svgEl("title", {}, g, `${name} ${fmt(chart, v)}`);
        svgEl("text", { x: right - 2, y: y(v) - 3, "text-anchor": "end", class: "small" }, svg, `${name} ${fmt(chart, v)}`);
      };
      line(lim.upper, "limit upper", "#c0392b", "5 4", "upper limit");
      line(lim.centre, "centre", "#1d4e89", null, "centre");
      line(lim.lower, "limit lower", "#c0392b", "5 4", "lower limit");
    }
    // the values (gaps break the line)
    let path = "", pen = false;
    pts.forEach((p, i) => {
      if (p.value === null || p.value === undefined) { pen = false; return; }
      path += (pen ? " L" : " M") + x(i).toFixed(1) + " " + y(p.value).toFixed(1);
      pen = true;
    });
    svgEl("path", { d: path.trim(), fill: "none", stroke: "#5f6b7a", "stroke-width": 1.6 }, svg);
    pts.forEach((p, i) => {
      if (p.value === null || p.value === undefined) return;
      // a day with contacts still open is not finished: a hollow point, whatever its value says
      const color = p.signal ? "#c0392b" : "#5f6b7a";
      const c = svgEl("circle", { class: (p.signal ? "point signal" : "point") + (p.open ? " unfinished" : ""),
        cx: x(i), cy: y(p.value), r: p.signal ? 4.6 : 2.8, fill: p.open ? "#ffffff" : color,
        stroke: color, "stroke-width": p.open ? 1.8 : 0 }, svg);
      const rules = (p.rules || []).map((r) => RULES[r] || r).join("; ");
      svgEl("title", {}, c, `${p.day}: ${fmt(chart, p.value)} · ${p.contacts} contacts` +
        (p.open ? ` (${p.open} still open)` : "") + (p.signal ? ` · signal: ${rules}` : "") +
        (p.in_baseline ? " · baseline" : ""));
    });
    fig.dataset.drawn = "true";
    const b = chart.baseline;
    const latest = [...pts].reverse().find((p) => p.value !== null && p.value !== undefined);
    let text = lim ? `Centre ${fmt(chart, lim.centre)}, limits ${fmt(chart, lim.lower)} to ${fmt(chart, lim.upper)} ` +
      `from ${lim.baseline_points} baseline days (${b.from} to ${b.to}).`
      : "No limits yet: fewer than 6 baseline days with enough contacts.";
    if (latest && latest.open) {
      text += ` ${latest.day}: day not finished, ${latest.open} contact${latest.open === 1 ? "" : "s"} still open ` +
        "(hollow points): its waiting and lead time are not all counted yet.";
    } else if (latest && lim) {
      text += latest.signal ? ` ${latest.day}: signal (${latest.rules.map((r) => RULES[r] || r).join("; ")}).`
        : ` ${latest.day}: within normal variation.`;
    }
    if (chart.signals && chart.signals.length) text += ` Signals on ${chart.signals.length} day(s).`;
    note.textContent = text;
  }

  function query() {
    const page = new URLSearchParams(window.location.search);
    const q = new URLSearchParams();
    const to = page.get("to");
    let lastDay = new Date();
    if (to) {
      const t = Date.parse(to.length === 10 ? to + "T00:00:00Z" : to);
      if (!Number.isNaN(t)) lastDay = new Date(t - 1);
    }
    const lastIso = lastDay.toISOString().slice(0, 10);
    q.set("to", lastIso);
    q.set("from", new Date(Date.parse(lastIso + "T00:00:00Z") - 89 * DAY_MS).toISOString().slice(0, 10));
    for (const k of ["channel", "team", "min_contacts", "baseline_from", "baseline_to"]) {
      for (const v of page.getAll(k)) if (v) q.append(k, v);
    }
    return q;
  }

  async function refresh() {
    clearTimeout(timer);
    const t = token();
    if (!t || document.body.dataset.auth !== "ok") {
      timer = setTimeout(refresh, 500); // dashboard.js has not been let in yet
      return;
    }
    try {
      const r = await fetch("api/v1/signals?" + query().toString(),
        { headers: { Authorization: "Bearer " + t, Accept: "application/json" }, cache: "no-store" });
      const body = await r.json();
      section();
      if (!r.ok) {
        document.getElementById("signals-explain").textContent = `Cannot read the signals: ${body.message || r.status}`;
      } else {
        last = body;
        for (const chart of body.charts) draw(figureFor(chart), chart);
        document.getElementById("signals").dataset.loaded = "true";
      }
    } catch (e) {
      /* shown by dashboard.js's status; try again */
    }
    timer = setTimeout(refresh, 60000);
  }

  // Honest periods: the summary's "unfinished" block (dashboard.js passes each summary on)
  function duration(v) {
    return fmt({ unit: "seconds" }, v);
  }
  function drawUnfinished(u) {
    let p = document.getElementById("unfinished");
    if (!p) {
      p = el("p", { id: "unfinished", class: "unfinished", role: "status" });
      const tiles = document.getElementById("tiles");
      tiles.parentNode.insertBefore(p, tiles);
    }
    p.dataset.open = String(u ? u.open : 0);
    p.hidden = !u || u.finished;
    if (!u || u.finished) { p.textContent = ""; return; }
    const parts = u.by_channel.map((c) => `${c.channel} ${c.open}`).join(", ");
    p.textContent = `Not finished: ${u.open} contact${u.open === 1 ? "" : "s"} of this period still open (${parts})` +
      (u.waiting_now ? `; the ${u.waiting_now} still queued or on hold have waited ${duration(u.waiting_so_far_s)} so far, ` +
        "which no figure below counts until their wait ends" : "") +
      ". Read its rates as unfinished, not as better.";
  }
  document.addEventListener("leancrm:summary", (ev) => drawUnfinished(ev.detail && ev.detail.unfinished));

  document.getElementById("controls").addEventListener("change", () => setTimeout(refresh, 50));
  let resize = null;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(() => {
      if (last) for (const chart of last.charts) draw(figureFor(chart), chart);
    }, 150);
  });
  refresh();
})();
