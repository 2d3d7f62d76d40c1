// streamlab live ABR rule for hls.js in low-latency mode: the rung and the playback rate come from
// POST {serving}/abr/decide with mode "live" (models/abr/live/decide.py decide_live: the learned
// live policy, or the server's live fallback), and hls.js's own ABR decides whenever no fresh answer
// is in (no serving URL, a failed or late call): the served rule can only add to hls.js's.
//
// Samples are whole segments, as the service's live policy is trained on: the parts of one
// segment (same frag.sn) are summed, bytes over first-byte-to-last-byte time (hls.js's part
// stats: loading.first..loading.end), so the time a blocking part request waits for the encoder
// does not read as a slow link. After every completed segment one decision is fetched
// asynchronously (hls.js asks for levels synchronously); an answer is used for the next segment
// only, and its playback rate is applied to the media element (also as defaultPlaybackRate,
// which hls.js restores on attach) until the next answer.
//
// Exposed as window.StreamlabAbrLive: segmentSamples and liveRequest (pure; tests run them under
// node), freshChoice, and createLiveAbrController ({abrController} for the Hls config; set
// maxLiveSyncPlaybackRate to 1 so hls.js's latency controller leaves the rate to the service).
"use strict";

(function (root) {
  // parts: [{sn, bytes, transferMs}] in load order. Completed segments only (the last sn is
  // still loading), oldest first, at most maxSamples.
  function segmentSamples(parts, maxSamples) {
    const bySn = new Map();
    for (const p of parts) {
      if (!bySn.has(p.sn)) bySn.set(p.sn, { bytes: 0, download_ms: 0 });
      const s = bySn.get(p.sn);
      s.bytes += p.bytes;
      s.download_ms += Math.max(p.transferMs, 0);
    }
    const sns = [...bySn.keys()];
    sns.pop(); // the segment being loaded
    return sns.map((sn) => bySn.get(sn))
      .filter((s) => s.bytes > 0 && s.download_ms > 0)
      .map((s) => ({ bytes: Math.round(s.bytes), download_ms: Math.max(1, s.download_ms) }))
      .slice(-maxSamples);
  }

  // The live request body (models/abr/decide.py AbrDecideRequest, mode "live").
  function liveRequest(state) {
    return {
      mode: "live",
      buffer_s: Math.min(3600, Math.max(0, state.bufferS)),
      latency_s: Math.min(3600, Math.max(0, state.latencyS)),
      target_latency_s: state.targetLatencyS,
      playback_rate: Math.min(4, Math.max(0.25, state.playbackRate || 1)),
      last_rung: state.lastRung,
      chunks_remaining: 100000,
      segment_duration_s: state.segmentDurationS,
      part_duration_s: state.partDurationS || undefined,
      samples: state.samples,
      ladder: state.bitratesKbps.map((kbps) => ({ bitrate_kbps: kbps })),
      session_id: state.sessionId,
    };
  }

  // The served answer for the segment after `completedSn`, or null (then hls.js's own rule decides).
  function freshChoice(decision, completedSn, nowMs, maxAgeMs) {
    if (!decision || decision.forSn !== completedSn) return null;
    if (nowMs - decision.receivedAt > maxAgeMs) return null;
    return decision;
  }

  // options: {servingUrl, budgetMs, targetLatencyS, sessionId, maxSamples, stats, onDecision(choice)}
  // stats: {served, hlsjs, calls, failures, last, answers: {model, fallback}, lastAnswer, history}: served/hlsjs
  // count the levels hls.js asked for by who chose them; answers count the server's answers by their
  // source (its learned live policy, or its documented fallback when that model is missing or failed);
  // history: the last 64 answers with the latency, buffer and target they were asked with
  function createLiveAbrController(options) {
    const Base = root.Hls.DefaultConfig.abrController;
    const Events = root.Hls.Events;
    // the caller's object (the page's state) is filled in place, so its fields stay readable there
    const counts = options.stats || {};
    const zero = { served: 0, hlsjs: 0, calls: 0, failures: 0, last: null, answers: {}, lastAnswer: null, history: [] };
    for (const [key, value] of Object.entries(zero)) if (!(key in counts)) counts[key] = value;

    class ServingLiveAbrController extends Base {
      constructor(hls) {
        super(hls);
        this.parts = [];
        this.completedSn = null;
        this.decision = null;
        hls.on(Events.FRAG_LOADED, this.onPartLoaded, this);
      }

      destroy() {
        if (this.hls) this.hls.off(Events.FRAG_LOADED, this.onPartLoaded, this);
        super.destroy();
      }

      get nextAutoLevel() {
        const own = super.nextAutoLevel;
        const served = freshChoice(this.decision, this.completedSn, performance.now(), 4000);
        const level = served ? served.level : own;
        const source = served ? "served" : "hlsjs";
        counts[source] += 1;
        counts.last = { source, level, reason: served ? served.reason : "hls.js ABR" };
        if (options.onDecision) options.onDecision(counts.last);
        return level;
      }

      set nextAutoLevel(level) {
        Object.getOwnPropertyDescriptor(Base.prototype, "nextAutoLevel").set.call(this, level);
      }

      onPartLoaded(_event, data) {
        const frag = data.frag;
        if (!frag || frag.type !== "main" || frag.sn === "initSegment") return;
        const loading = (data.part || frag).stats.loading;
        const sn = frag.sn;
        const before = this.parts.length ? this.parts[this.parts.length - 1].sn : null;
        this.parts.push({ sn, bytes: (data.part || frag).stats.loaded, transferMs: loading.end - loading.first });
        if (this.parts.length > 256) this.parts.splice(0, this.parts.length - 256);
        if (before !== null && sn !== before) {
          this.completedSn = before;
          this.lastLevel = frag.level;
          this.requestDecision(before);
        }
      }

      async requestDecision(forSn) {
        const hls = this.hls;
        const media = hls && hls.media;
        if (!options.servingUrl || !media || !hls.levels || !hls.levels.length) return;
        const levels = hls.levels.map((l, i) => ({ i, kbps: (l.averageBitrate || l.bitrate) / 1000 }))
          .sort((a, b) => a.kbps - b.kbps);
        const details = hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0].details || {};
        const buffered = media.buffered;
        let bufferS = 0;
        for (let i = 0; i < buffered.length; i++) {
          if (buffered.start(i) <= media.currentTime && media.currentTime <= buffered.end(i)) bufferS = buffered.end(i) - media.currentTime;
        }
        const body = liveRequest({
          bufferS, latencyS: hls.latency || 0, targetLatencyS: options.targetLatencyS || hls.targetLatency || undefined,
          playbackRate: media.playbackRate, lastRung: Math.max(0, levels.findIndex((l) => l.i === this.lastLevel)),
          segmentDurationS: details.targetduration || 2, partDurationS: details.partTarget,
          samples: segmentSamples(this.parts, options.maxSamples || 16), bitratesKbps: levels.map((l) => l.kbps),
          sessionId: options.sessionId,
        });
        if (!body.samples.length) return;
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), options.budgetMs || 400);
        counts.calls += 1;
        try {
          const response = await fetch(`${options.servingUrl}/abr/decide`, {
            method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
            signal: controller.signal, cache: "no-store",
          });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          const answer = await response.json();
          if (!Number.isInteger(answer.rung) || answer.rung < 0 || answer.rung >= levels.length) throw new Error("bad rung");
          this.decision = { forSn, level: levels[answer.rung].i, reason: answer.reason, receivedAt: performance.now() };
          counts.answers[answer.source] = (counts.answers[answer.source] || 0) + 1;
          counts.lastAnswer = { source: answer.source, rung: answer.rung, reason: answer.reason,
            playback_rate: answer.playback_rate, model_version: answer.model_version || null };
          counts.history.push({ rung: answer.rung, rate: answer.playback_rate, latencyS: body.latency_s,
            bufferS: body.buffer_s, targetS: body.target_latency_s });
          if (counts.history.length > 64) counts.history.shift();
          if (typeof answer.playback_rate === "number" && isFinite(answer.playback_rate)) {
            media.playbackRate = answer.playback_rate;
            media.defaultPlaybackRate = answer.playback_rate;
          }
        } catch (err) {
          counts.failures += 1;
        } finally {
          clearTimeout(timer);
        }
      }
    }

    return { abrController: ServingLiveAbrController, stats: counts };
  }

  const api = { segmentSamples, liveRequest, freshChoice, createLiveAbrController };
  root.StreamlabAbrLive = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
