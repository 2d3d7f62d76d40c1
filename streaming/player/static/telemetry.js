// streamlab QoE beacons: Heartbeat events every `heartbeat_interval_s` while a session lives and one
// SessionSummary when it ends (title ended, another title started, page hidden, fatal error),
// POSTed as a JSON list to {serving}/qoe/ingest in the schema of models/qoe/telemetry.py:
// counters are cumulative since the session started (a lost heartbeat loses no stall), times are
// epoch seconds, identifiers are tokens [A-Za-z0-9_.:-]{1,64}, no field outside the schema.
// fetch(keepalive) rather than sendBeacon: the body is JSON, which sendBeacon cannot send across
// origins without a preflight, and keepalive requests outlive the page on pagehide.
//
// Wall-clock quantities (startup_s, rebuffer_s, play_s) are real seconds; playhead_s is media time.
"use strict";

(function () {
  const SAMPLE_MS = 250;
  // A "waiting" shorter than this is not a rebuffer: chromium fires brief ones around appends and
  // switches while the picture never freezes for a viewer.
  const MIN_STALL_MS = 100;

  function token(value, fallback) {
    const cleaned = String(value == null ? "" : value).replace(/[^A-Za-z0-9_.:-]+/g, "_").slice(0, 64);
    return cleaned || fallback;
  }

  function round(value, digits) {
    const f = 10 ** digits;
    return Math.round(value * f) / f;
  }

  function clamp(value, lo, hi) {
    if (!Number.isFinite(value)) return lo;
    return Math.min(hi, Math.max(lo, value));
  }

  // options: {servingUrl, enabled, intervalS, viewerId, sessionId, titleId, device, region, edge,
  //           video, sample: () => ({bitrateKbps, throughputKbps, bufferS, switches, errors}), stats}
  // stats (shared with the page): {sent, failed, lastStatus, lastError, events: [last few]}
  function createSession(options) {
    const video = options.video;
    const stats = options.stats;
    const startedAtS = Date.now() / 1000;
    const startedPerf = performance.now();
    let startupS = null;
    let stallStart = null;
    let stallCounted = false;
    let rebufferCount = 0;
    let rebufferS = 0;
    let playS = 0;
    let bitrateTime = 0;
    let lastSample = performance.now();
    let ended = false;

    const base = () => ({
      viewer_id: token(options.viewerId, "anonymous"),
      session_id: token(options.sessionId, "session"),
      title_id: token(options.titleId, "unknown"),
      timestamp: round(Date.now() / 1000, 3),
      device: token(options.device, "web"),
      region: token(options.region, "local"),
      edge: token(options.edge, "edge"),
    });

    // The ongoing stall, once it has lasted long enough to count.
    function stalledS() {
      if (stallStart === null) return 0;
      const ms = performance.now() - stallStart;
      if (ms < MIN_STALL_MS) return 0;
      if (!stallCounted) {
        stallCounted = true;
        rebufferCount += 1;
        stats.rebufferCount = rebufferCount;
      }
      return ms / 1000;
    }

    function send(events) {
      if (!options.enabled || !options.servingUrl) return;
      for (const event of events) {
        stats.events.push(event);
        if (stats.events.length > 20) stats.events.shift();
      }
      fetch(`${options.servingUrl}/qoe/ingest`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(events),
        keepalive: true,
        cache: "no-store",
      }).then((response) => {
        stats.lastStatus = response.status;
        if (response.ok) stats.sent += events.length;
        else stats.failed += events.length;
      }, (err) => {
        stats.failed += events.length;
        stats.lastError = String(err && err.message || err);
      });
    }

    function onPlaying() {
      if (startupS === null) startupS = (performance.now() - startedPerf) / 1000;
      if (stallStart !== null) {
        rebufferS += stalledS();
        stallStart = null;
      }
      stallCounted = false;
    }

    function onWaiting() {
      // A stall counts only after the first frame (before it, waiting is startup) and not for seeks.
      if (startupS !== null && stallStart === null && !video.seeking && !ended) {
        stallStart = performance.now();
        stallCounted = false;
      }
    }

    function tick() {
      const now = performance.now();
      const dt = (now - lastSample) / 1000;
      lastSample = now;
      stalledS(); // counts a stall that has lasted long enough
      if (startupS !== null && stallStart === null && !video.paused && !video.ended) {
        playS += dt;
        bitrateTime += dt * (options.sample().bitrateKbps || 0);
      }
    }

    function heartbeat() {
      if (ended) return;
      tick();
      const s = options.sample();
      const stall = stalledS(); // before reading the count: this call may count the ongoing stall
      send([Object.assign(base(), {
        kind: "heartbeat",
        playhead_s: round(clamp(video.currentTime || 0, 0, 1e9), 3),
        buffer_s: round(clamp(s.bufferS, 0, 600), 3),
        bitrate_kbps: round(clamp(s.bitrateKbps, 0, 200000), 1),
        throughput_kbps: round(clamp(s.throughputKbps, 0, 1e7), 1),
        startup_s: startupS === null ? null : round(startupS, 3),
        rebuffer_count: rebufferCount,
        rebuffer_s: round(rebufferS + stall, 3),
        bitrate_switches: Math.min(1000000, s.switches || 0),
        errors: Math.min(1000000, s.errors || 0),
      })]);
    }

    // failureReason: null for a session that ended normally or was abandoned.
    function end(failureReason) {
      if (ended) return;
      tick();
      ended = true;
      clearInterval(sampleTimer);
      clearInterval(beatTimer);
      video.removeEventListener("playing", onPlaying);
      video.removeEventListener("waiting", onWaiting);
      const s = options.sample();
      const stall = stalledS();
      const failed = Boolean(failureReason);
      const summary = Object.assign(base(), {
        kind: "session_end",
        started_at: round(startedAtS, 3),
        startup_s: startupS === null ? null : round(startupS, 3),
        play_s: round(playS, 3),
        rebuffer_count: rebufferCount,
        rebuffer_s: round(rebufferS + stall, 3),
        bitrate_switches: Math.min(1000000, s.switches || 0),
        avg_bitrate_kbps: round(clamp(playS > 0 ? bitrateTime / playS : s.bitrateKbps, 0, 200000), 1),
        errors: Math.min(1000000, s.errors || 0),
        playback_failed: failed || startupS === null,
        failure_reason: failed ? token(failureReason, "error") : startupS === null ? "abandoned_before_start" : null,
      });
      if (summary.rebuffer_count === 0) summary.rebuffer_s = 0;
      send([summary]);
      stats.ended = summary.kind;
    }

    video.addEventListener("playing", onPlaying);
    video.addEventListener("waiting", onWaiting);
    const sampleTimer = setInterval(tick, SAMPLE_MS);
    const beatTimer = setInterval(heartbeat, options.intervalS * 1000);
    return { end, heartbeat, get ended() { return ended; } };
  }

  window.StreamlabTelemetry = { createSession, token };
})();
