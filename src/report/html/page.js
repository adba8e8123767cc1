// report.html: interactive charts (uPlot) drawn from the data embedded in this file, table
// sorting and filtering, the per-run drill-down, live reloading while the sweep runs, and a
// self-test (open the file with #selftest) that the browser tests read back from the DOM.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const ERRORS = []; // uncaught errors and figures that could not be drawn
  const CHARTS = []; // {fig, plot, kind, colors}
  const FIGS = [];   // {el, kind, legend, rebuild}

  // ---- numbers ----------------------------------------------------------------------
  // As the markdown report writes values: 4 significant digits, scientific outside
  // [1e-3, 1e5), trailing zeros trimmed.
  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (!isFinite(v)) return isNaN(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e-3 && a < 1e5) return String(parseFloat(v.toPrecision(4)));
    const [m, e] = v.toExponential(3).split("e");
    return String(parseFloat(m)) + "e" + parseInt(e, 10);
  }
  const rgb = (c, a) => a === undefined ? `rgb(${c[0]},${c[1]},${c[2]})` : `rgba(${c[0]},${c[1]},${c[2]},${a})`;
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  function el(tag, attrs, parent) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "html") e.innerHTML = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    if (parent) parent.appendChild(e);
    return e;
  }
  const positive = (v) => v !== null && isFinite(v) && v > 0;
  // Destroys charts about to be redrawn and forgets them.
  function forget(plots) {
    plots.forEach((u) => { if (u) u.destroy(); });
    CHARTS.splice(0, CHARTS.length, ...CHARTS.filter((c) => !plots.includes(c.plot)));
  }

  // Axis labels; uPlot passes null for the ticks it leaves unlabelled.
  const axisValues = () => (u, vals) => vals.map((v) => (v === null ? "" : fmt(v)));
  // A log axis: ticks at powers of ten only, at most about eight of them (uPlot's own log
  // ticks fail on ranges of some 45 decades, which vanishing gradients reach). Within
  // one decade, the range's ends and a middle value.
  function logAxis(axis) {
    return Object.assign(axis, {
      filter: (u, splits) => splits,
      splits: (u, i, min, max) => {
        const a = Math.ceil(Math.log10(min) - 1e-9), b = Math.floor(Math.log10(max) + 1e-9);
        if (!(b >= a)) return [min, Math.sqrt(min * max), max];
        const step = Math.max(1, Math.ceil((b - a + 1) / 8));
        const out = [];
        for (let e = a; e <= b; e += step) out.push(Math.pow(10, e));
        return out;
      },
    });
  }
  const yAxis = (label, log) => (log ? logAxis : (x) => x)({ label: label + (log ? " (log)" : ""), size: 70, values: axisValues() });
  const INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 5e5, 1e6];

  // ---- shared chart pieces ----------------------------------------------------------
  function chartWidth(container, panels) {
    const w = Math.max(320, container.clientWidth || 960);
    const cols = panels >= 2 ? 2 : 1;
    return Math.floor(w / cols) - 12;
  }

  // A tooltip that follows the cursor inside a panel.
  function tooltip(wrap) {
    const t = el("div", { class: "tip" }, wrap);
    return {
      show(u, html) {
        if (!html) { t.style.display = "none"; return; }
        t.innerHTML = html;
        t.style.display = "block";
        const left = u.cursor.left + u.over.offsetLeft, top = u.cursor.top + u.over.offsetTop;
        const w = t.offsetWidth;
        t.style.left = (left + 14 + w > wrap.clientWidth ? left - w - 14 : left + 14) + "px";
        t.style.top = Math.max(0, top - 10) + "px";
      },
    };
  }

  // A legend whose entries hide and show a group in every panel of a figure.
  function legend(fig, entries, onToggle) {
    const box = el("div", { class: "legend" }, fig);
    const hidden = new Set();
    for (const e of entries) {
      const b = el("button", { type: "button", class: "entry", "data-label": e.label }, box);
      const sw = el("span", { class: "swatch" + (e.dashed ? " dashed" : "") }, b);
      sw.style.borderColor = rgb(e.color);
      if (!e.dashed) sw.style.background = rgb(e.color);
      el("span", { text: e.label }, b);
      b.addEventListener("click", () => {
        if (hidden.has(e.label)) hidden.delete(e.label); else hidden.add(e.label);
        b.classList.toggle("off", hidden.has(e.label));
        onToggle(hidden);
      });
    }
    return hidden;
  }

  function logToggle(controls, checked, onChange, text) {
    const l = el("label", { class: "toggle" }, controls);
    const c = el("input", { type: "checkbox" }, l);
    c.checked = checked;
    el("span", { text: text || "log scale" }, l);
    c.addEventListener("change", () => onChange(c.checked));
    return c;
  }

  // Sorted union of the x positions of several series, and each series on it.
  function align(seriesXs) {
    const set = new Set();
    seriesXs.forEach((xs) => xs.forEach((x) => set.add(x)));
    const xs = Array.from(set).sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    return { xs, put(sx, ys) { const out = new Array(xs.length).fill(null); sx.forEach((x, i) => { out[at.get(x)] = ys[i]; }); return out; } };
  }

  // ---- bands over steps or layers ---------------------------------------------------
  // A panel: {title, x_label, y_label, log_y, bands: [{label, n, xs, mean, std?, lo?, hi?, ns?, dashed?}],
  // curves: [{label, xs, ys}], notes}. Colours come with the figure, per label.
  function bandsFigure(fig, f, colors) {
    const state = { log: f.panels.some((p) => p.log_y), hidden: new Set() };
    const labels = [];
    f.panels.forEach((p) => p.bands.forEach((b) => { if (!labels.some((e) => e.label === b.label)) labels.push({ label: b.label, color: colors[b.label] || [0, 0, 0], dashed: !!b.dashed }); }));
    f.panels.forEach((p) => p.curves.forEach((c, i) => { if (c.label && !labels.some((e) => e.label === c.label)) labels.push({ label: c.label, color: i % 2 ? [110, 110, 110] : [0, 0, 0], dashed: true }); }));
    const controls = el("div", { class: "controls" }, fig);
    const grid = el("div", { class: "panels" }, fig);
    let plots = [];
    const canLog = f.panels.some((p) => p.bands.some((b) => b.mean.some(positive)));
    function build() {
      forget(plots);
      plots = [];
      grid.innerHTML = "";
      for (const p of f.panels) plots.push(bandsPanel(grid, p, colors, state, f.panels.length));
      plots.forEach((u) => CHARTS.push({ fig, plot: u, kind: "bands" }));
    }
    if (canLog) logToggle(controls, state.log, (v) => { state.log = v; build(); });
    el("span", { class: "hint", text: "drag to zoom, double-click to reset" }, controls);
    legend(fig, labels, (hidden) => {
      state.hidden = hidden;
      for (const u of plots) u.series.forEach((s, i) => { if (i > 0 && s.group !== undefined) u.setSeries(i, { show: !hidden.has(s.group) }); });
    });
    build();
    return { rebuild: build, plots: () => plots };
  }

  function bandsPanel(grid, p, colors, state, npanels) {
    const wrap = el("div", { class: "panel" }, grid);
    el("div", { class: "ptitle", text: p.title }, wrap);
    if (p.notes && p.notes.length) el("div", { class: "notes", text: p.notes.join("; ") }, wrap);
    const clean = (ys) => ys.map((v) => (v === null || !isFinite(v) || (state.log && v <= 0)) ? null : v);
    const a = align(p.bands.map((b) => b.xs).concat(p.curves.map((c) => c.xs)));
    const data = [a.xs];
    const series = [{ label: p.x_label }];
    const bands = [];
    const meta = [];
    p.bands.forEach((b) => {
      const c = colors[b.label] || [0, 0, 0];
      const mi = data.length;
      data.push(clean(a.put(b.xs, b.mean)));
      const sparse = b.xs.length < a.xs.length / 2;
      series.push({ label: b.label, group: b.label, stroke: rgb(c), width: 2, dash: b.dashed ? [8, 5] : undefined, spanGaps: true, show: !state.hidden.has(b.label), points: { show: sparse || b.xs.length < 40, size: 5, fill: rgb(c) } });
      let lo = null, hi = null;
      if (b.lo && b.hi) { lo = b.lo; hi = b.hi; }
      else if (b.std) { lo = b.mean.map((m, i) => m === null || b.std[i] === null ? null : m - b.std[i]); hi = b.mean.map((m, i) => m === null || b.std[i] === null ? null : m + b.std[i]); }
      const m = { kind: "band", label: b.label, color: rgb(c), mean: mi, n: b.n, ns: b.ns ? a.put(b.xs, b.ns) : null };
      if (lo) {
        const hiIdx = data.length;
        data.push(clean(a.put(b.xs, hi)));
        series.push({ group: b.label, stroke: "transparent", width: 0, spanGaps: true, show: !state.hidden.has(b.label), points: { show: false } });
        const loIdx = data.length;
        data.push(clean(a.put(b.xs, lo)));
        series.push({ group: b.label, stroke: "transparent", width: 0, spanGaps: true, show: !state.hidden.has(b.label), points: { show: false } });
        bands.push({ series: [hiIdx, loIdx], fill: rgb(c, 0.18) });
        m.lo = loIdx; m.hi = hiIdx;
      }
      meta.push(m);
    });
    p.curves.forEach((cv, i) => {
      const label = cv.label || (p.curves.find((x) => x.label) || {}).label || "theory";
      const idx = data.length;
      data.push(clean(a.put(cv.xs, cv.ys)));
      series.push({ label, group: label, stroke: i % 2 ? "rgb(110,110,110)" : "rgb(0,0,0)", width: 1.5, dash: [10, 6], spanGaps: true, show: !state.hidden.has(label), points: { show: false } });
      meta.push({ kind: "curve", label, color: i % 2 ? "rgb(110,110,110)" : "rgb(0,0,0)", mean: idx });
    });
    const tip = tooltip(wrap);
    const opts = {
      width: chartWidth(grid, npanels), height: 300,
      scales: { x: { time: false }, y: state.log ? { distr: 3, log: 10 } : { auto: true } },
      axes: [{ label: p.x_label, incrs: INCRS }, yAxis(p.y_label, state.log)],
      series, bands,
      legend: { show: false },
      cursor: { drag: { x: true, y: true, uni: 30 } },
      hooks: {
        setCursor: [(u) => {
          const i = u.cursor.idx;
          if (i === null || i === undefined) return tip.show(u, null);
          let h = `<b>${esc(p.x_label)} ${fmt(data[0][i])}</b>`;
          for (const m of meta) {
            if (!u.series[m.mean].show) continue;
            const v = data[m.mean][i];
            if (v === null) continue;
            let extra = "";
            if (m.lo !== undefined && data[m.lo][i] !== null) extra = ` [${fmt(data[m.lo][i])}, ${fmt(data[m.hi][i])}]`;
            const n = m.ns ? m.ns[i] : m.n;
            h += `<div><span class="dot" style="background:${m.color}"></span>${esc(m.label)}: <b>${fmt(v)}</b>${extra}${n !== undefined && n !== null ? ` <i>n = ${n}</i>` : ""}</div>`;
          }
          tip.show(u, h);
        }],
      },
    };
    return new uPlot(opts, data, wrap);
  }

  // ---- heat maps (layer × step) ------------------------------------------------------
  // maps: [{title, layers, steps, values[step][layer-1]}]; one shared colour range.
  function heatFigure(fig, f, scale) {
    const grid = el("div", { class: "panels" }, fig);
    let lo = Infinity, hi = -Infinity;
    f.maps.forEach((m) => m.values.forEach((r) => r.forEach((v) => { if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } })));
    if (hi - lo <= 1e-12 * Math.max(Math.abs(hi), Math.abs(lo))) { const h = hi !== 0 && isFinite(hi) ? Math.abs(hi) * 0.05 : 0.5; lo -= h; hi += h; }
    const color = (v) => {
      if (v === null || !isFinite(v)) return "rgb(200,200,200)";
      const t = Math.min(1, Math.max(0, (v - lo) / (hi - lo))) * (scale.length - 1);
      const i = Math.min(scale.length - 2, Math.floor(t)), fr = t - i;
      const c = scale[i].map((x, k) => Math.round(x + (scale[i + 1][k] - x) * fr));
      return rgb(c);
    };
    const plots = f.maps.map((m) => heatPanel(grid, m, color, f.colorbar_label, f.maps.length));
    plots.forEach((u) => u && CHARTS.push({ fig, plot: u, kind: "heat" }));
    if (isFinite(lo)) {
      const bar = el("div", { class: "colorbar" }, fig);
      el("span", { text: fmt(lo) }, bar);
      const g = el("span", { class: "ramp" }, bar);
      g.style.background = "linear-gradient(to right," + scale.map((c) => rgb(c)).join(",") + ")";
      el("span", { text: fmt(hi) + "  " + f.colorbar_label }, bar);
    }
    return { plots: () => plots.filter(Boolean) };
  }

  function heatPanel(grid, m, color, zlabel, nmaps) {
    const wrap = el("div", { class: "panel" }, grid);
    el("div", { class: "ptitle", text: m.title }, wrap);
    if (!m.steps.length) { el("div", { class: "nodata", text: (m.notes || []).join("; ") || "no data" }, wrap); return null; }
    const tip = tooltip(wrap);
    const n = m.steps.length;
    const xs = m.steps.map((_, i) => i);
    const opts = {
      width: chartWidth(grid, nmaps), height: 300,
      scales: { x: { time: false, auto: false, range: () => [-0.5, n - 0.5] }, y: { auto: false, range: () => [0.5, m.layers + 0.5] } },
      axes: [{ label: "step", values: (u, vals) => vals.map((v) => (Number.isInteger(v) && v >= 0 && v < n) ? fmt(m.steps[v]) : "") },
             { label: "layer", values: (u, vals) => vals.map((v) => Number.isInteger(v) ? v : "") }],
      series: [{}, { label: m.title, stroke: "transparent", paths: () => null, points: { show: false } }],
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          for (let s = 0; s < n; s++) {
            const x0 = u.valToPos(s - 0.5, "x", true), x1 = u.valToPos(s + 0.5, "x", true);
            for (let l = 1; l <= m.layers; l++) {
              const y0 = u.valToPos(l + 0.5, "y", true), y1 = u.valToPos(l - 0.5, "y", true);
              const row = m.values[s] || [];
              ctx.fillStyle = color(row[l - 1] === undefined ? null : row[l - 1]);
              ctx.fillRect(Math.floor(x0), Math.floor(y0), Math.ceil(x1 - x0), Math.ceil(y1 - y0));
            }
          }
        }],
        setCursor: [(u) => {
          if (u.cursor.left < 0) return tip.show(u, null);
          const s = Math.round(u.posToVal(u.cursor.left, "x")), l = Math.round(u.posToVal(u.cursor.top, "y"));
          if (s < 0 || s >= n || l < 1 || l > m.layers) return tip.show(u, null);
          const v = (m.values[s] || [])[l - 1];
          tip.show(u, `<b>${esc(m.title)}</b><div>step ${fmt(m.steps[s])}, layer ${l}</div><div>${esc(zlabel)}: <b>${fmt(v === undefined ? null : v)}</b>${v !== null && v !== undefined && isFinite(v) && /log10/.test(zlabel) ? ` (${fmt(Math.pow(10, v))})` : ""}</div>`);
        }],
      },
    };
    return new uPlot(opts, [xs, xs.map(() => null)], wrap);
  }

  // ---- error bars against x (depth) --------------------------------------------------
  function errorBarsFigure(fig, f, colors) {
    const state = { log: f.log_y, hidden: new Set() };
    const controls = el("div", { class: "controls" }, fig);
    const grid = el("div", { class: "panels" }, fig);
    let plot = null;
    const a = align(f.series.map((s) => s.xs));
    function build() {
      forget([plot]);
      grid.innerHTML = "";
      const wrap = el("div", { class: "panel" }, grid);
      const tip = tooltip(wrap);
      const clean = (ys) => ys.map((v) => (v === null || !isFinite(v) || (state.log && v <= 0)) ? null : v);
      const data = [a.xs], series = [{ label: f.x_label }];
      f.series.forEach((s) => {
        data.push(clean(a.put(s.xs, s.mean)));
        const c = colors[s.label] || [0, 0, 0];
        series.push({ label: s.label, group: s.label, stroke: rgb(c), width: 2, spanGaps: true, show: !state.hidden.has(s.label), points: { show: true, size: 7, fill: rgb(c) } });
      });
      const errs = f.series.map((s) => a.put(s.xs, s.err));
      plot = new uPlot({
        width: chartWidth(grid, 1), height: 340,
        scales: { x: { time: false }, y: state.log ? { distr: 3, log: 10 } : { auto: true } },
        axes: [{ label: f.x_label, incrs: INCRS }, yAxis(f.y_label, state.log)],
        series, legend: { show: false },
        hooks: {
          draw: [(u) => {
            const ctx = u.ctx;
            f.series.forEach((s, k) => {
              if (!u.series[k + 1].show) return;
              ctx.strokeStyle = u.series[k + 1].stroke();
              ctx.lineWidth = 1.5;
              data[k + 1].forEach((m, i) => {
                const e = errs[k][i];
                if (m === null || e === null) return;
                const x = u.valToPos(a.xs[i], "x", true);
                const lo = m - e, hi = m + e;
                const y0 = u.valToPos(state.log && lo <= 0 ? m / 1e6 : lo, "y", true), y1 = u.valToPos(hi, "y", true);
                ctx.beginPath(); ctx.moveTo(x, y0); ctx.lineTo(x, y1);
                ctx.moveTo(x - 5, y0); ctx.lineTo(x + 5, y0); ctx.moveTo(x - 5, y1); ctx.lineTo(x + 5, y1); ctx.stroke();
              });
            });
          }],
          setCursor: [(u) => {
            const i = u.cursor.idx;
            if (i === null || i === undefined) return tip.show(u, null);
            let h = `<b>${esc(f.x_label)} ${fmt(a.xs[i])}</b>`;
            f.series.forEach((s, k) => {
              if (!u.series[k + 1].show || data[k + 1][i] === null) return;
              const g = (DATA.groups || []).find((g) => g.depthless === s.label && g.depth === a.xs[i]);
              h += `<div><span class="dot" style="background:${rgb(colors[s.label] || [0, 0, 0])}"></span>${esc(s.label)}: <b>${fmt(data[k + 1][i])}</b> ± ${fmt(errs[k][i])}${g ? ` <i>n = ${g.runs.length}</i>` : ""}</div>`;
            });
            tip.show(u, h);
          }],
        },
      }, data, wrap);
      CHARTS.push({ fig, plot, kind: "errorbars" });
    }
    if (f.series.some((s) => s.mean.some(positive))) logToggle(controls, state.log, (v) => { state.log = v; build(); });
    legend(fig, f.series.map((s) => ({ label: s.label, color: colors[s.label] || [0, 0, 0] })), (hidden) => {
      state.hidden = hidden;
      plot.series.forEach((s, i) => { if (i > 0) plot.setSeries(i, { show: !hidden.has(s.group) }); });
    });
    build();
    return { plots: () => [plot] };
  }

  // ---- paired seeds: arm A (x) against arm B (y), one panel per stratum ---------------
  function pairsFigure(fig, f, colors) {
    const state = { log: f.panels.every((p) => p.points.every((q) => positive(q[0]) && positive(q[1]))) && f.panels.some((p) => p.points.length) };
    const controls = el("div", { class: "controls" }, fig);
    const grid = el("div", { class: "panels" }, fig);
    let plots = [];
    function build() {
      forget(plots);
      plots = [];
      grid.innerHTML = "";
      f.panels.forEach((p, k) => {
        const wrap = el("div", { class: "panel" }, grid);
        el("div", { class: "ptitle", text: p.title + ` (n = ${p.points.length} pairs)` }, wrap);
        const pts = p.points.filter((q) => q[0] !== null && q[1] !== null && (!state.log || (q[0] > 0 && q[1] > 0))).sort((a, b) => a[0] - b[0]);
        if (!pts.length) { el("div", { class: "nodata", text: "no finite pair" }, wrap); return; }
        const tip = tooltip(wrap);
        const c = colors[p.title] || [0, 114, 178];
        const lo = Math.min(...pts.map((q) => Math.min(q[0], q[1]))), hi = Math.max(...pts.map((q) => Math.max(q[0], q[1])));
        const xs = pts.map((q) => q[0]);
        const diag = [lo].concat(xs, [hi]);
        const data = [diag, [null].concat(pts.map((q) => q[1]), [null]), diag.slice()];
        const sc = state.log ? { distr: 3, log: 10 } : { auto: true };
        const u = new uPlot({
          width: chartWidth(grid, f.panels.length), height: 320,
          scales: { x: Object.assign({ time: false }, sc), y: sc },
          axes: [(state.log ? logAxis : (x) => x)({ label: p.x_label, values: axisValues() }), yAxis(p.y_label, state.log)],
          series: [{}, { label: p.title, group: p.title, stroke: rgb(c), paths: () => null, points: { show: true, size: 9, fill: rgb(c, 0.8) } },
                   { label: "y = x", stroke: "rgb(110,110,110)", dash: [6, 5], width: 1, points: { show: false } }],
          legend: { show: false },
          hooks: {
            setCursor: [(u) => {
              const i = u.cursor.idx;
              if (!i || i > pts.length) return tip.show(u, null);
              const q = pts[i - 1];
              tip.show(u, `<b>${esc(q[2])}</b> <i>(${esc(p.title)}, n = ${p.points.length})</i><div>${esc(p.x_label)}: <b>${fmt(q[0])}</b></div><div>${esc(p.y_label)}: <b>${fmt(q[1])}</b></div><div>difference: ${fmt(q[1] - q[0])}</div>`);
            }],
          },
        }, data, wrap);
        plots.push(u);
        CHARTS.push({ fig, plot: u, kind: "pairs" });
      });
    }
    logToggle(controls, state.log, (v) => { state.log = v; build(); }, "log axes");
    build();
    return { plots: () => plots };
  }

  // ---- figures ------------------------------------------------------------------------
  function drawFigure(fig) {
    const f = DATA.figures[Number(fig.getAttribute("data-figure"))];
    fig.innerHTML = "";
    el("div", { class: "ftitle", text: f.title }, fig);
    let h;
    try {
      if (f.kind === "bands") h = bandsFigure(fig, f, f.colors);
      else if (f.kind === "heatmaps") h = heatFigure(fig, f, DATA.color_scale);
      else if (f.kind === "error_bars") h = errorBarsFigure(fig, f, f.colors);
      else if (f.kind === "pairs") h = pairsFigure(fig, f, f.colors);
    } catch (e) {
      // One figure that cannot be drawn must not take the page with it; it says why, and
      // the self-test reports it.
      ERRORS.push(`${f.title}: ${e}`);
      el("div", { class: "nodata", text: `This chart could not be drawn (${e}); report.md has its PNG.` }, fig);
    }
    FIGS.push({ el: fig, kind: f.kind, handle: h });
  }

  // ---- tables: sort by a header click, filter by text ---------------------------------
  function sortKey(td) {
    const v = td.getAttribute("data-v");
    if (v !== null) return v === "" ? NaN : Number(v);
    const m = td.textContent.trim().match(/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?/i);
    return m ? Number(m[0]) : NaN;
  }
  function enhanceTable(table) {
    const head = table.tHead;
    const body = table.tBodies[0];
    if (!head || !body) return;
    const bar = el("div", { class: "tablebar" });
    table.parentNode.insertBefore(bar, table);
    const input = el("input", { type: "search", placeholder: "filter rows (all words must match)", class: "filter" }, bar);
    const count = el("span", { class: "count" }, bar);
    const rows = () => Array.from(body.rows);
    const update = () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      rows().forEach((r) => { const t = r.textContent.toLowerCase(); const ok = words.every((w) => t.includes(w)); r.hidden = !ok; shown += ok; });
      count.textContent = `${shown} of ${rows().length} rows`;
    };
    input.addEventListener("input", update);
    update();
    Array.from(head.rows[0].cells).forEach((th, col) => {
      th.classList.add("sortable");
      th.title = "sort";
      th.addEventListener("click", () => {
        const dir = th.getAttribute("data-sort") === "asc" ? "desc" : "asc";
        Array.from(head.rows[0].cells).forEach((h) => h.removeAttribute("data-sort"));
        th.setAttribute("data-sort", dir);
        const keyed = rows().map((r, i) => ({ r, i, n: sortKey(r.cells[col]), t: r.cells[col].textContent.trim() }));
        const numeric = keyed.filter((k) => !isNaN(k.n)).length >= keyed.length / 2;
        keyed.sort((a, b) => {
          let c;
          if (numeric) { c = (isNaN(a.n) ? 1 : 0) - (isNaN(b.n) ? 1 : 0); if (c) return c; c = a.n - b.n; }
          else c = a.t.localeCompare(b.t);
          if (dir === "desc") c = -c;
          return c || a.i - b.i;
        });
        keyed.forEach((k) => body.appendChild(k.r));
      });
    });
  }

  // ---- per-run drill-down -------------------------------------------------------------
  function drillDown(box) {
    const D = DATA.drill;
    if (!D || !DATA.groups.length) return;
    const controls = el("div", { class: "controls" }, box);
    el("span", { text: "run: " }, controls);
    const sel = el("select", { id: "drill-run" }, controls);
    DATA.groups.forEach((g) => {
      const og = el("optgroup", { label: g.label }, sel);
      g.runs.forEach((id) => el("option", { value: id, text: id }, og));
    });
    const out = el("div", {}, box);
    function mean(ids, get) { // mean over runs at each x, and how many runs have a value there
      const acc = new Map();
      ids.forEach((id) => { const r = get(id); if (!r) return; r.xs.forEach((x, i) => { const v = r.ys[i]; if (v === null || !isFinite(v)) return; const a = acc.get(x) || [0, 0]; a[0] += v; a[1] += 1; acc.set(x, a); }); });
      const xs = Array.from(acc.keys()).sort((a, b) => a - b);
      return { xs, ys: xs.map((x) => acc.get(x)[0] / acc.get(x)[1]), ns: xs.map((x) => acc.get(x)[1]) };
    }
    function show(id) {
      out.innerHTML = "";
      const g = DATA.groups.find((g) => g.runs.includes(id));
      const color = (DATA.group_colors || {})[g.label] || [0, 114, 178];
      const colors = { [id]: color, [`group mean (${g.label})`]: [110, 110, 110] };
      const panel = (title, key) => {
        const s = D.steps[id];
        const m = mean(g.runs, (r) => D.steps[r] && { xs: D.steps[r].step, ys: D.steps[r][key] });
        const xs = [], ys = [];
        if (s) s.step.forEach((x, i) => { if (s[key][i] !== null) { xs.push(x); ys.push(s[key][i]); } });
        return { title, x_label: "step", y_label: "MSE", log_y: true, notes: s && s.diverged_step !== null ? [`diverged at step ${s.diverged_step}`] : [],
          bands: [{ label: id, n: 1, xs, mean: ys }, { label: `group mean (${g.label})`, n: g.runs.length, ns: m.ns, xs: m.xs, mean: m.ys, dashed: true }], curves: [] };
      };
      const lf = el("figure", { class: "chart", "data-kind": "bands" }, out);
      el("div", { class: "ftitle", text: `Loss of ${id} beside its group's mean` }, lf);
      const h = bandsFigure(lf, { panels: [panel("Training loss", "train"), panel("Eval loss", "eval")] }, colors);
      FIGS.push({ el: lf, kind: "bands", handle: h, drill: true });
      const L = D.layers[id];
      for (const [key, name] of [["grad", "log10 of the weight-gradient norm"], ["act", "log10 of the layer-output std"]]) {
        if (!L) break;
        const lg = (v) => (v === null || !(v > 0)) ? null : Math.log10(v);
        const runMap = { title: `${id}`, layers: L.layers, steps: L.steps, values: L[key].map((r) => r.map(lg)) };
        const sums = L.steps.map(() => new Array(L.layers).fill(0)), cnt = L.steps.map(() => new Array(L.layers).fill(0));
        g.runs.forEach((r) => { const o = D.layers[r]; if (!o) return; o.steps.forEach((st, si) => { const k = L.steps.indexOf(st); if (k < 0) return; o[key][si].forEach((v, l) => { const x = lg(v); if (x !== null && l < L.layers) { sums[k][l] += x; cnt[k][l] += 1; } }); }); });
        const meanMap = { title: `group mean over ${g.runs.length} runs (${g.label})`, layers: L.layers, steps: L.steps, values: sums.map((r, k) => r.map((s, l) => cnt[k][l] ? s / cnt[k][l] : null)) };
        const hf = el("figure", { class: "chart", "data-kind": "heatmaps" }, out);
        el("div", { class: "ftitle", text: `${name[0].toUpperCase() + name.slice(1)}, layer × step` }, hf);
        FIGS.push({ el: hf, kind: "heatmaps", handle: heatFigure(hf, { maps: [runMap, meanMap], colorbar_label: name }, DATA.color_scale), drill: true });
      }
    }
    sel.addEventListener("change", () => { CHARTS.splice(0, CHARTS.length, ...CHARTS.filter((c) => !out.contains(c.fig))); FIGS.splice(0, FIGS.length, ...FIGS.filter((f) => !f.drill)); show(sel.value); });
    document.querySelectorAll("[data-run]").forEach((a) => a.addEventListener("click", (ev) => { ev.preventDefault(); sel.value = a.getAttribute("data-run"); sel.dispatchEvent(new Event("change")); box.scrollIntoView(); }));
    show(sel.value);
  }

  // ---- live: reload while the sweep runs ------------------------------------------------
  function live() {
    if (!DATA.live) return;
    const y = sessionStorage.getItem("resweep-scroll");
    if (y !== null) { window.scrollTo(0, Number(y)); sessionStorage.removeItem("resweep-scroll"); }
    if (location.hash === "#selftest") return;
    setTimeout(() => { sessionStorage.setItem("resweep-scroll", String(window.scrollY)); location.reload(); }, DATA.live.reload_ms);
  }

  // ---- self-test (#selftest): results written into the DOM for the browser tests -------
  function ink(u, match) {
    // Read a copy, so the chart's own canvas is never read back.
    const src = u.ctx.canvas, c = document.createElement("canvas");
    c.width = src.width; c.height = src.height;
    const ctx = c.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(src, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && match(d[i], d[i + 1], d[i + 2])) n++;
    return n;
  }
  const coloured = (r, g, b) => Math.max(r, g, b) - Math.min(r, g, b) > 40;
  const near = (c) => (r, g, b) => Math.abs(r - c[0]) + Math.abs(g - c[1]) + Math.abs(b - c[2]) < 30;
  async function selfTest() {
    const tick = () => new Promise((r) => setTimeout(r, 50));
    const res = { figures: [], legend: null, hover: null, zoom: null, log_toggle: null, sort: null, filter: null, drill: null, resources: performance.getEntriesByType("resource").length, errors: ERRORS };
    FIGS.filter((f) => !f.drill).forEach((f) => {
      const plots = CHARTS.filter((c) => c.fig === f.el).map((c) => c.plot);
      res.figures.push({ title: f.el.querySelector(".ftitle").textContent, kind: f.kind, canvases: plots.length, ink: plots.reduce((s, u) => s + ink(u, coloured), 0) });
    });
    const fig = FIGS.find((f) => !f.drill && f.kind === "bands" && f.el.querySelectorAll(".legend .entry").length >= 2);
    if (fig) {
      const f = DATA.figures[Number(fig.el.getAttribute("data-figure"))];
      const btn = fig.el.querySelector(".legend .entry");
      const label = btn.getAttribute("data-label");
      const plots = () => CHARTS.filter((c) => c.fig === fig.el).map((c) => c.plot);
      const count = () => plots().reduce((s, u) => s + ink(u, near(f.colors[label])), 0);
      const shown = () => plots().reduce((s, u) => s + u.series.filter((x) => x.group === label && x.show).length, 0);
      const before = count(), seriesBefore = shown();
      btn.click();
      await tick();
      const after = count(), seriesAfter = shown();
      btn.click();
      await tick();
      res.legend = { label, pixels_before: before, pixels_after: after, series_before: seriesBefore, series_after: seriesAfter, pixels_restored: count() };
    }
    // Hover, zoom and the log toggle on the first line chart (the loss curves), through
    // the mouse events a person would cause.
    const first = FIGS.find((f) => !f.drill && f.kind === "bands");
    if (first) {
      const u = CHARTS.find((c) => c.fig === first.el).plot;
      const r = u.over.getBoundingClientRect();
      const at = (type, fx, fy, target) => (target || u.over).dispatchEvent(new MouseEvent(type, { clientX: r.left + fx * r.width, clientY: r.top + fy * r.height, movementX: 1, movementY: 1, bubbles: true, view: window }));
      at("mouseenter", 0.5, 0.5);
      at("mousemove", 0.5, 0.5);
      await tick();
      const tip = u.root.parentNode.querySelector(".tip");
      res.hover = { text: tip.style.display === "none" ? "" : tip.textContent };
      const before = [u.scales.x.min, u.scales.x.max];
      at("mousedown", 0.2, 0.3);
      await tick();
      at("mousemove", 0.6, 0.7);
      await tick();
      at("mouseup", 0.6, 0.7, document);
      await tick();
      res.zoom = { before, after: [u.scales.x.min, u.scales.x.max] };
      const box = first.el.querySelector(".controls input[type=checkbox]");
      const distr = () => CHARTS.filter((c) => c.fig === first.el).map((c) => c.plot.scales.y.distr);
      const d0 = distr();
      box.click();
      await tick();
      const d1 = distr();
      box.click();
      await tick();
      res.log_toggle = { before: d0, toggled: d1, back: distr() };
    }
    const table = document.querySelector("table.runs");
    if (table) {
      const ids = () => Array.from(table.tBodies[0].rows).map((r) => r.cells[0].textContent);
      const th = Array.from(table.tHead.rows[0].cells).find((h) => h.textContent === "final eval loss");
      const col = Array.from(table.tHead.rows[0].cells).indexOf(th);
      const before = ids();
      th.click();
      let after = ids();
      if (after.join() === before.join()) { th.click(); after = ids(); }
      const vals = Array.from(table.tBodies[0].rows).map((r) => sortKey(r.cells[col])).filter((v) => !isNaN(v));
      const asc = vals.every((v, i) => i === 0 || vals[i - 1] <= v), desc = vals.every((v, i) => i === 0 || vals[i - 1] >= v);
      res.sort = { rows: before.length, reordered: after.join() !== before.join(), ordered: asc || desc, same_rows: after.slice().sort().join() === before.slice().sort().join() };
      const input = table.previousSibling.querySelector("input");
      const word = table.tBodies[0].rows[0].cells[0].textContent;
      input.value = word;
      input.dispatchEvent(new Event("input"));
      const visible = Array.from(table.tBodies[0].rows).filter((r) => !r.hidden);
      res.filter = { word, visible: visible.length, all_match: visible.every((r) => r.textContent.includes(word)) };
      input.value = "";
      input.dispatchEvent(new Event("input"));
    }
    const sel = document.getElementById("drill-run");
    if (sel) {
      sel.selectedIndex = sel.options.length - 1;
      sel.dispatchEvent(new Event("change"));
      await tick();
      const drawn = FIGS.filter((f) => f.drill).map((f) => CHARTS.filter((c) => c.fig === f.el).reduce((s, c) => s + ink(c.plot, coloured), 0));
      res.drill = { run: sel.value, figures: drawn.length, ink: drawn };
    }
    const pre = el("pre", { id: "selftest", text: JSON.stringify(res) }, document.body);
    pre.hidden = true;
  }

  window.addEventListener("error", (e) => ERRORS.push(String(e.message)));
  // Tables first: the charts then measure their place on a page that no longer moves.
  document.querySelectorAll("#report table").forEach(enhanceTable);
  document.querySelectorAll("figure.chart[data-figure]").forEach(drawFigure);
  const drill = document.getElementById("drill");
  if (drill) drillDown(drill);
  live();
  if (location.hash === "#selftest") setTimeout(() => selfTest().catch((e) => { ERRORS.push(String(e)); el("pre", { id: "selftest", text: JSON.stringify({ errors: ERRORS }) }, document.body); }), 300);
})();
