/// `GET /`: a status page for a person without Grafana at hand. One self-contained document (no
/// external scripts or fonts: relays often run where the internet is not reachable) that polls
/// `/status` and `/lag-history` every second and draws the last hour of lag on a canvas.
enum StatusPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>binlog-relay</title>
    <style>
      body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
      h1 { font-size: 1.3em; margin: 0 0 .2em; }
      #state { font-weight: 600; padding: .1em .5em; border-radius: .3em; }
      .ok { background: #d4f4d4; } .warn { background: #fbeec0; } .bad { background: #f8d0d0; }
      table { border-collapse: collapse; margin: 1em 0; }
      td, th { text-align: left; padding: .2em .8em .2em 0; vertical-align: top; }
      th { font-weight: 600; color: #555; }
      code { font-size: 12px; word-break: break-all; }
      #chart { width: 100%; max-width: 960px; height: 260px; background: #fff; border: 1px solid #ddd; }
      .legend span { display: inline-block; margin-right: 1.2em; }
      .swatch { display: inline-block; width: .9em; height: .9em; margin-right: .3em; vertical-align: -1px; }
      #error { color: #a00; }
    </style>
    </head>
    <body>
    <h1>binlog-relay <span id="version"></span></h1>
    <div>state: <span id="state">loading…</span> <span id="reason"></span></div>
    <div id="error"></div>
    <table>
      <tr><th>lag</th><td>receive <b id="lag-receive">–</b>, durable <b id="lag-relay">–</b>, apply <b id="lag-apply">–</b></td></tr>
      <tr><th>backlog</th><td id="backlog">–</td></tr>
      <tr><th>source</th><td id="source">–</td></tr>
      <tr><th>target</th><td id="target">–</td></tr>
      <tr><th>received</th><td><code id="pos-received">–</code></td></tr>
      <tr><th>durable</th><td><code id="pos-durable">–</code></td></tr>
      <tr><th>applied</th><td><code id="pos-applied">–</code></td></tr>
    </table>
    <div class="legend">
      <span><i class="swatch" style="background:#1f77b4"></i>receive lag</span>
      <span><i class="swatch" style="background:#ff7f0e"></i>durable lag</span>
      <span><i class="swatch" style="background:#2ca02c"></i>apply lag</span>
      <span id="chart-max"></span>
    </div>
    <canvas id="chart" width="960" height="260" data-samples="0" data-last-apply="" data-last-receive=""></canvas>
    <p>Metrics for Prometheus: <a href="/metrics">/metrics</a> · JSON: <a href="/status">/status</a> · health: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></p>
    <script>
    "use strict";
    const $ = (id) => document.getElementById(id);
    function seconds(v) { return v === null || v === undefined ? "unknown" : (v < 10 ? v.toFixed(3) : v.toFixed(1)) + " s"; }
    function position(p) {
      if (!p) return "–";
      let text = (p.file !== undefined && p.file !== null) ? p.file + ":" + p.position : "";
      if (p.gtid) text += "  gtid " + p.gtid;
      if (p.last_gtid) text += "  last gtid " + p.last_gtid;
      if (p.log) text += "  (log " + p.log + ")";
      return text;
    }
    function render(s) {
      $("version").textContent = s.version;
      const state = $("state");
      state.textContent = s.state + (s.ready ? " (ready)" : " (not ready)");
      state.className = s.ready ? "ok" : (s.state === "catching_up" || s.state === "starting" || s.state === "promoting" ? "warn" : "bad");
      $("reason").textContent = s.not_ready_reason || "";
      $("lag-receive").textContent = seconds(s.lag.receive);
      $("lag-relay").textContent = seconds(s.lag.relay);
      $("lag-apply").textContent = s.target ? seconds(s.lag.apply) : "no target";
      const b = s.backlog || {};
      $("backlog").textContent = (b.bytes ?? "?") + " bytes, " + (b.transactions ?? "?") + " transactions";
      if (s.source) {
        $("source").textContent = s.source.endpoint + " — " + (s.source.connected ? "connected" : "DISCONNECTED") +
          (s.source.flavor ? ", " + s.source.flavor + " " + s.source.version : "") + ", semi-sync " + s.source.semi_sync +
          ", " + s.source.events_received + " events";
      }
      if (s.target) {
        $("target").textContent = s.target.endpoint + " (" + s.target.channel + ") — " + (s.target.connected ? "connected" : "DISCONNECTED") +
          ", applier " + s.target.state + ", " + s.target.transactions_applied + " transactions applied" +
          (s.target.last_error ? " — last error: " + s.target.last_error : "");
      }
      $("pos-received").textContent = position(s.received);
      $("pos-durable").textContent = position(s.durable);
      $("pos-applied").textContent = position(s.applied);
    }
    function draw(h) {
      const canvas = $("chart"), ctx = canvas.getContext("2d");
      const w = canvas.width, ht = canvas.height, pad = 36;
      ctx.clearRect(0, 0, w, ht);
      const series = [["receive", "#1f77b4"], ["relay", "#ff7f0e"], ["apply", "#2ca02c"]];
      const n = h.t.length;
      canvas.dataset.samples = String(n);
      let max = 1;
      for (const [key] of series) for (const v of h[key]) if (v !== null && v > max) max = v;
      max = Math.ceil(max * 1.1);
      $("chart-max").textContent = "scale: 0–" + max + " s over the last " + (n < 120 ? n + " s" : Math.round(n / 60) + " min");
      ctx.strokeStyle = "#ccc"; ctx.fillStyle = "#666"; ctx.font = "11px sans-serif";
      for (let i = 0; i <= 4; i++) {
        const y = ht - pad + (-(ht - 2 * pad) * i) / 4;
        ctx.beginPath(); ctx.moveTo(pad, y); ctx.lineTo(w - 8, y); ctx.stroke();
        ctx.fillText(((max * i) / 4).toFixed(max < 8 ? 1 : 0) + " s", 2, y + 4);
      }
      if (n < 2) return;
      const t0 = h.t[0], t1 = Math.max(h.t[n - 1], t0 + 60);
      const x = (t) => pad + ((w - pad - 8) * (t - t0)) / (t1 - t0);
      const y = (v) => ht - pad - ((ht - 2 * pad) * v) / max;
      for (const [key, color] of series) {
        ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
        let drawing = false;
        for (let i = 0; i < n; i++) {
          const v = h[key][i];
          if (v === null) { drawing = false; continue; }
          if (drawing) ctx.lineTo(x(h.t[i]), y(v)); else ctx.moveTo(x(h.t[i]), y(v));
          drawing = true;
        }
        ctx.stroke();
      }
      canvas.dataset.lastApply = String(h.apply[n - 1]);
      canvas.dataset.lastReceive = String(h.receive[n - 1]);
    }
    async function refresh() {
      try {
        const [status, history] = await Promise.all([fetch("/status"), fetch("/lag-history")]);
        render(await status.json());
        draw(await history.json());
        $("error").textContent = "";
      } catch (e) {
        $("error").textContent = "cannot reach the relay: " + e;
      }
    }
    refresh();
    setInterval(refresh, 1000);
    </script>
    </body>
    </html>
    """#
}
