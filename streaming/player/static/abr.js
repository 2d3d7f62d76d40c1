// streamlab ABR rule for hls.js: every segment's rendition comes from POST {serving}/abr/decide
// (the learned policy), within a time budget, or from BOLA on the page when the service is late,
// failing or not configured.
//
// hls.js asks its ABR controller for the next level synchronously (on every 100 ms tick), so the
// network call cannot sit inside that getter. Instead the fragment loader holds each finished
// segment download for at most the budget while the decision for the *next* segment is fetched
// (its throughput sample and the buffer the segment adds are known by then), and only then hands
// the bytes to hls.js; so hls.js, which picks the next segment after appending this one, finds
// the answer in place. The measured download time is fixed before the hold, so the hold never
// lowers a throughput sample. An answer that is not in by the budget is a "timeout", a failed
// call an "error", and BOLA on the page decides that segment. While the buffer is full the
// decision is refreshed every `refresh_s`, so the one used when loading resumes reflects the
// buffer of that moment. The first segment waits for its decision (at most the budget) too.
//
// Exposed as window.StreamlabAbr: bolaRung (tests compare it with models/abr/decide.py decide_bola) and
// createHlsAbrController ({abrController, fLoader} classes for the Hls config).
"use strict";

(function () {
  // BOLA-BASIC (Spiteri et al., INFOCOM 2016) exactly as models/abr/policies/bola.py computes it,
  // with the same constants (the page gets them from /config.json): scores (V (u_m + gamma p) - Q) / S_m,
  // utilities u_m = ln(S_m / S_min), ties to the higher rung.
  function bolaRung(bitratesKbps, sizesBytes, bufferS, minimumBufferS, targetBufferS) {
    if (bitratesKbps.length <= 1) return 0;
    const u = bitratesKbps.map((r) => Math.log(r / bitratesKbps[0]));
    const gp = 1.0 + (u[u.length - 1] - u[0]) / (targetBufferS / minimumBufferS - 1.0);
    const vp = minimumBufferS / (u[0] + gp - 1.0);
    let best = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < u.length; i++) {
      const score = (vp * (u[i] + gp) - bufferS) / sizesBytes[i];
      if (score >= bestScore) {
        best = i;
        bestScore = score;
      }
    }
    return best;
  }

  // Segment sizes the service assumes when none are sent: bitrate x duration (models/abr/decide.py size_matrix).
  function nominalSizes(bitratesKbps, segmentDurationS) {
    return bitratesKbps.map((kbps) => (kbps * 1000.0) / 8.0 * segmentDurationS);
  }

  function codecFamily(level) {
    return String(level.videoCodec || level.codecSet || "").split(".")[0] || "any";
  }

  // The rungs the rule chooses among: one codec family (H.264 when offered: switching codecs
  // mid-stream is not seamless in MSE), lowest bitrate first, strictly increasing as the service wants.
  function ladderOf(levels) {
    const families = new Map();
    levels.forEach((level, index) => {
      const family = codecFamily(level);
      if (!families.has(family)) families.set(family, []);
      families.get(family).push({ level: index, bitrateKbps: (level.averageBitrate || level.maxBitrate || level.bitrate) / 1000 });
    });
    let chosen = families.get("avc1");
    if (!chosen) chosen = [...families.values()].sort((a, b) => b.length - a.length)[0] || [];
    chosen.sort((a, b) => a.bitrateKbps - b.bitrateKbps);
    const rungs = [];
    for (const rung of chosen) {
      if (rung.bitrateKbps > 0 && (!rungs.length || rung.bitrateKbps > rungs[rungs.length - 1].bitrateKbps)) rungs.push(rung);
    }
    return rungs;
  }

  // options: {servingUrl, budgetMs, refreshS, maxSamples, bola: {minimum_buffer_s, target_buffer_s},
  //           sessionId, segmentDurationS, totalChunks, bufferAheadS: () => s, stats, onDecision(choice)}
  // stats (shared with the page): {decisions: {model, fallback}, fallbacks: {reason: n}, calls,
  //           callMs: [], last: choice}
  function createHlsAbrController(options) {
    const Base = window.Hls.DefaultConfig.abrController;
    const BaseLoader = window.Hls.DefaultConfig.loader;
    const stats = options.stats;
    let active = null; // the session's controller (hls.js constructs it; the loader needs it)

    // Holds a finished media segment until the next segment's decision is in (at most the budget).
    class DecidingFragmentLoader extends BaseLoader {
      load(context, loaderConfig, callbacks) {
        const frag = context.frag;
        const rule = active;
        if (!rule || !frag || frag.sn === "initSegment" || frag.type !== "main") {
          super.load(context, loaderConfig, callbacks);
          return;
        }
        const onSuccess = callbacks.onSuccess;
        const held = Object.assign({}, callbacks, {
          onSuccess: (response, loadStats, ctx, details) => {
            const deliver = () => {
              if (!loadStats.aborted && rule.hls) onSuccess(response, loadStats, ctx, details);
            };
            let decided;
            try {
              decided = rule.segmentDownloaded(frag, loadStats);
            } catch (err) {
              // Never hold a segment because the rule broke: the next pick falls back to BOLA.
              console.warn(`[streamlab] ABR rule failed after segment ${frag.sn}: ${err}`);
              decided = Promise.resolve();
            }
            decided.then(deliver, deliver);
          },
        });
        super.load(context, loaderConfig, held);
      }
    }

    class ServingAbrController extends Base {
      constructor(hls) {
        super(hls);
        // hls.js's emergency switch-down aborts a slow download and picks a lower level itself;
        // this rule owns every rendition choice, as the headless player's does.
        this._abandonRulesCheck = () => {};
        this.rungs = [];
        this.samples = [];
        this.seq = 0; // bumps on every finished main segment: decisions older than that are stale
        this.lastRung = 0;
        this.lastSn = null;
        this.decision = null; // {seq, rung, source, reason, receivedAt}
        this.failure = null; // {seq, reason} when the call for this seq failed
        this.inflight = null; // {seq, abort}
        this.choice = null;
        active = this;
        hls.on(Hls.Events.MANIFEST_PARSED, this.onManifestParsed, this);
        hls.on(Hls.Events.LEVELS_UPDATED, this.onLadderChanged, this);
        hls.on(Hls.Events.FRAG_LOADING, this.onSegmentLoading, this);
        this.refreshTimer = setInterval(() => this.refreshIfIdle(), 100);
      }

      destroy() {
        clearInterval(this.refreshTimer);
        if (this.inflight) this.inflight.abort();
        if (this.hls) {
          this.hls.off(Hls.Events.MANIFEST_PARSED, this.onManifestParsed, this);
          this.hls.off(Hls.Events.LEVELS_UPDATED, this.onLadderChanged, this);
          this.hls.off(Hls.Events.FRAG_LOADING, this.onSegmentLoading, this);
        }
        if (active === this) active = null;
        super.destroy();
      }

      // ---- the two getters hls.js asks (first segment, every later one)
      get firstAutoLevel() {
        return this.choose();
      }

      get nextAutoLevel() {
        return this.choose();
      }

      // hls.js writes back the level it is about to load (and, after a load error, a forced lower
      // one); the base keeps it, but the choice stays this rule's.
      set nextAutoLevel(level) {
        Object.getOwnPropertyDescriptor(Base.prototype, "nextAutoLevel").set.call(this, level);
      }

      // ---- events
      onManifestParsed() {
        this.onLadderChanged();
        // Hold the first segment until its decision is in (at most the budget): hls.startLoad().
        const hls = this.hls;
        if (hls.config.autoStartLoad) return;
        const start = () => {
          if (this.hls && !this.started) {
            this.started = true;
            this.hls.startLoad(-1);
          }
        };
        this.requestDecision(0).finally(start);
        setTimeout(start, options.budgetMs + 20);
      }

      onLadderChanged() {
        this.rungs = ladderOf(this.hls.levels || []);
      }

      onSegmentLoading(_event, data) {
        const frag = data.frag;
        if (frag.type !== "main" || frag.sn === "initSegment") return;
        this.loading = true;
        const rung = this.rungIndex(frag.level);
        const choice = this.choice && this.choice.level === frag.level ? this.choice : this.fallbackChoice("late", frag.level);
        stats.decisions[choice.source] += 1;
        if (choice.source === "fallback") stats.fallbacks[choice.fallbackReason] = (stats.fallbacks[choice.fallbackReason] || 0) + 1;
        stats.last = Object.assign({}, choice, { sn: frag.sn, rung });
        stats.segments.push({ sn: frag.sn, rung, source: choice.source, reason: choice.reason });
        if (options.onDecision) options.onDecision(stats.last);
      }

      // Called by the loader with the finished download; resolves once the next decision is in
      // or its budget is spent (never rejects).
      segmentDownloaded(frag, loadStats) {
        this.loading = false;
        const loading = loadStats.loading;
        const downloadMs = Math.max(1, loading.end - loading.start);
        if (loadStats.loaded > 0) this.samples.push({ bytes: loadStats.loaded, download_ms: downloadMs });
        if (this.samples.length > options.maxSamples) this.samples.splice(0, this.samples.length - options.maxSamples);
        this.lastRung = Math.max(0, this.rungIndex(frag.level));
        this.lastSn = frag.sn;
        this.seq += 1;
        const details = this.hls.levels[frag.level] && this.hls.levels[frag.level].details;
        this.remaining = details ? details.endSN - frag.sn : null;
        if (this.remaining === 0) return Promise.resolve(); // that was the last segment
        // frag.duration: what this segment adds to the buffer once appended (it is not yet).
        return this.requestDecision(frag.duration);
      }

      // ---- decisions
      rungIndex(level) {
        return this.rungs.findIndex((r) => r.level === level);
      }

      chunksRemaining() {
        if (this.remaining != null) return Math.max(1, this.remaining);
        return Math.max(1, options.totalChunks - this.seq);
      }

      state(extraBufferS) {
        return {
          buffer_s: Math.min(3600, Math.max(0, options.bufferAheadS() + extraBufferS)),
          last_rung: this.lastRung,
          chunks_remaining: Math.min(100000, this.chunksRemaining()),
          segment_duration_s: options.segmentDurationS,
          samples: this.samples.slice(),
          ladder: this.rungs.map((r) => ({ bitrate_kbps: r.bitrateKbps })),
          session_id: options.sessionId,
        };
      }

      async requestDecision(extraBufferS) {
        if (!options.servingUrl || !this.rungs.length) return;
        if (this.inflight) this.inflight.abort();
        const seq = this.seq;
        const controller = new AbortController();
        const entry = { seq, abort: () => controller.abort() };
        this.inflight = entry;
        const started = performance.now();
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, options.budgetMs);
        stats.calls += 1;
        try {
          const response = await fetch(`${options.servingUrl}/abr/decide`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(this.state(extraBufferS)),
            signal: controller.signal,
            cache: "no-store",
          });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          const answer = await response.json();
          if (!Number.isInteger(answer.rung) || answer.rung < 0 || answer.rung >= this.rungs.length) {
            throw new Error(`rung ${JSON.stringify(answer.rung)} is not one of ${this.rungs.length}`);
          }
          const elapsed = performance.now() - started;
          stats.callMs.push(Math.round(elapsed * 10) / 10);
          if (stats.callMs.length > 200) stats.callMs.shift();
          if (seq !== this.seq) return; // a newer segment finished meanwhile: its own call decides
          const source = answer.source === "model" ? "model" : "fallback";
          this.decision = { seq, rung: answer.rung, source, reason: answer.reason, receivedAt: performance.now(),
                            fallbackReason: source === "model" ? null : "server_fallback", callMs: elapsed };
          this.failure = null;
        } catch (err) {
          if (seq !== this.seq || (this.inflight !== entry && !timedOut)) return; // superseded
          this.decision = null;
          this.failure = { seq, reason: timedOut ? "timeout" : "error", detail: String(err && err.message || err) };
        } finally {
          clearTimeout(timer);
          if (this.inflight === entry) this.inflight = null;
        }
      }

      refreshIfIdle() {
        if (!this.hls || (!this.started && !this.hls.config.autoStartLoad)) return;
        if (this.inflight || this.loading || this.seq === 0 || this.remaining === 0) return;
        const last = this.decision ? this.decision.receivedAt : this.failure ? this.failure.at || 0 : 0;
        if (performance.now() - last < options.refreshS * 1000) return;
        if (this.failure) this.failure.at = performance.now();
        this.requestDecision(0);
      }

      fallbackChoice(reason, level) {
        const rates = this.rungs.map((r) => r.bitrateKbps);
        if (!rates.length) {
          return { level: level != null ? level : 0, source: "fallback", fallbackReason: "no_ladder", reason: "no ladder" };
        }
        const buffer = options.bufferAheadS();
        const rung = bolaRung(rates, nominalSizes(rates, options.segmentDurationS), buffer,
          options.bola.minimum_buffer_s, options.bola.target_buffer_s);
        return { level: this.rungs[rung].level, source: "fallback", fallbackReason: reason,
                 reason: `bola: buffer ${buffer.toFixed(1)} s (${reason})` };
      }

      choose() {
        if (!this.hls) return 0;
        let choice;
        const d = this.decision;
        if (!this.rungs.length) choice = this.fallbackChoice("no_ladder", 0);
        else if (!options.servingUrl) choice = this.fallbackChoice("no_serving_url");
        else if (d && d.seq === this.seq) {
          // The service's answer, model or its own BOLA (same formula as ours, counted as a fallback).
          choice = { level: this.rungs[d.rung].level, source: d.source, fallbackReason: d.fallbackReason, reason: d.reason };
        }
        else if (this.failure && this.failure.seq === this.seq) choice = this.fallbackChoice(this.failure.reason);
        else choice = this.fallbackChoice("late");
        this.choice = choice;
        return choice.level;
      }
    }

    return { abrController: ServingAbrController, fLoader: DecidingFragmentLoader };
  }

  // One request outside any budget when the page starts: opens the connection and caches the
  // CORS preflight, so the first real decision does not pay for them.
  function warmUp(servingUrl) {
    if (!servingUrl) return Promise.resolve(false);
    return fetch(`${servingUrl}/abr/decide`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ buffer_s: 0, last_rung: 0, chunks_remaining: 1, ladder: [{ bitrate_kbps: 100 }, { bitrate_kbps: 200 }] }),
      cache: "no-store",
    }).then((r) => r.ok, () => false);
  }

  window.StreamlabAbr = { bolaRung, nominalSizes, ladderOf, createHlsAbrController, warmUp };
})();
