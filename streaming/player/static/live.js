// Live player on ?src=<URL>: a multivariant playlist (.m3u8) plays in hls.js low-latency mode, an
// MPD (.mpd) in Shaka Player low-latency mode (LL-DASH: chunked segments, availabilityTimeOffset).
//
// Every second it records the glass-to-glass latency, now minus the wall-clock time of the frame on
// screen: hls.js `playingDate` (from EXT-X-PROGRAM-DATE-TIME) or Shaka `getPlayheadTimeAsDate()`
// (from the MPD's availabilityStartTime); our packager sets both to the contribution encoder's
// capture clock. State for tests and tools is on `window.streamlabLive`; `rungSeconds` counts those
// samples by the rendition playing (e.g. {"360p": 28, "180p": 4}).
//
// ABR: hls.js's own rule by default; ?abr=served&serving=<model server URL> asks the server's live
// policy (POST /abr/decide, mode "live") after every segment through abr-live.js, which falls back
// to hls.js's rule whenever no fresh answer is in (server down, slower than SERVED_BUDGET_MS, an
// error). Decision counts (served vs hls.js, answers by source: model or the server's fallback) are
// on `streamlabLive.abr`, the latency measured last on `streamlabLive.latency`.
// ?maxrate=<1..2> bounds hls.js's own catch-up (maxLiveSyncPlaybackRate, default 1.1); the bound in force is on
// `streamlabLive.maxLiveSyncRate` (1 in served mode: the service sets the rate).
//
// An encrypted channel (`live start --drm clearkey`) plays with ?license=<ClearKey licence URL>&token=
// <playback token>: EME ClearKey in hls.js and Shaka, the token as a bearer token on licence requests,
// the same flow as a protected VOD title.
"use strict";

const SERVED_BUDGET_MS = 400;  // an /abr/decide answer later than this is dropped: hls.js's rule decides

(function () {
  const params = new URLSearchParams(window.location.search);
  const src = params.get("src");
  const license = params.get("license");
  const token = params.get("token");
  const abrMode = params.get("abr") || "hlsjs";
  const servingUrl = (params.get("serving") || "").replace(/\/+$/, "");
  const maxRate = params.get("maxrate");  // hls.js's own catch-up bound (maxLiveSyncPlaybackRate), default 1.1
  const video = document.getElementById("video");
  const state = (window.streamlabLive = {
    src, engine: null, latencies: [], latency: null, edgeLatencies: [], errors: [], fatal: null, stalls: 0,
    stallSeconds: 0, playing: false, level: -1, rungSeconds: {}, frames: 0, currentTime: 0,
    abr: { mode: "hlsjs", servingUrl: null, served: 0, hlsjs: 0, calls: 0, failures: 0, answers: {}, last: null, lastAnswer: null },
  });
  if (!src) { state.fatal = "no ?src= given"; return; }
  if (abrMode !== "hlsjs" && abrMode !== "served") { state.fatal = `unknown ?abr=${abrMode} (known: hlsjs, served)`; return; }
  if (maxRate !== null && !(/^[0-9.]+$/.test(maxRate) && Number(maxRate) >= 1 && Number(maxRate) <= 2)) {
    state.fatal = `?maxrate=${maxRate} is not a playback rate between 1 and 2`; return;
  }
  if (abrMode === "served" && !/^https?:\/\//.test(servingUrl)) { state.fatal = "?abr=served needs ?serving=<http(s) URL of the model server>"; return; }
  video.muted = true;
  const dash = /\.mpd(\?|$)/.test(src);
  if (dash && abrMode === "served") { state.fatal = "?abr=served is a rule for hls.js: play the .m3u8"; return; }
  const engine = dash ? startShaka() : startHls();
  if (!engine) return;
  state.engine = engine.name;

  function startHls() {
    if (!window.Hls || !Hls.isSupported()) { state.fatal = "hls.js or MSE unavailable"; return null; }
    // hls.js's maxLiveSyncPlaybackRate defaults to 1: it never closes the gap to its target latency after a late
    // start (measured: 3.24 s for 2 minutes, flat, on a quiet box). Up to 1.1x lets its latency controller catch up.
    // ?maxrate= sets another bound: the served-rule comparison gives hls.js the served rule's own (1.05), so the two
    // ABR rules differ in their decisions, not in how fast each may close a late join.
    const config = { lowLatencyMode: true, backBufferLength: 30, maxLiveSyncPlaybackRate: maxRate === null ? 1.1 : Number(maxRate) };
    if (abrMode === "served") {
      // the service's live policy sets the playback rate too: hls.js's latency controller leaves it alone
      const liveRule = window.StreamlabAbrLive.createLiveAbrController({
        servingUrl, budgetMs: SERVED_BUDGET_MS, sessionId: `live-${Math.random().toString(36).slice(2, 10)}`,
        stats: state.abr,
      });
      Object.assign(state.abr, { mode: "served", servingUrl });
      config.abrController = liveRule.abrController;
      config.maxLiveSyncPlaybackRate = 1;
    }
    state.maxLiveSyncRate = config.maxLiveSyncPlaybackRate;
    if (license) {
      config.emeEnabled = true;
      config.drmSystems = { "org.w3.clearkey": { licenseUrl: license } };
      config.licenseXhrSetup = (xhr, url) => {
        xhr.open("POST", url, true);
        if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      };
    }
    const hls = new Hls(config);
    window.streamlabHls = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      state.errors.push(`${data.type}/${data.details}${data.fatal ? " (fatal)" : ""}`);
      if (data.fatal) state.fatal = data.details;
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => { state.level = data.level; });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      video.play().catch((error) => state.errors.push(`play(): ${error}`));
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    const rung = () => {
      const level = hls.levels && hls.levels[hls.currentLevel];
      return level ? `${level.height}p` : null;
    };
    return { name: "hls.js", playingDate: () => hls.playingDate, targetLatency: () => hls.latency, rung };
  }

  function startShaka() {
    if (!window.shaka || !shaka.Player.isBrowserSupported()) { state.fatal = "Shaka Player or MSE unavailable"; return null; }
    shaka.polyfill.installAll();
    const player = new shaka.Player();
    window.streamlabShaka = player;
    // Shaka's low-latency default aims 0.5 s behind the live edge: on this loaded box that stalls
    // every few seconds, so aim a little further back (still under hls.js's PART-HOLD-BACK).
    player.configure({ streaming: { lowLatencyMode: true, inaccurateManifestTolerance: 0, rebufferingGoal: 0.01,
      liveSync: { enabled: true, targetLatency: 1.2, targetLatencyTolerance: 0.3 } } });
    if (license) {
      player.configure({ drm: { servers: { "org.w3.clearkey": license } } });
      player.getNetworkingEngine().registerRequestFilter((type, request) => {
        if (type === shaka.net.NetworkingEngine.RequestType.LICENSE && token) request.headers.Authorization = `Bearer ${token}`;
      });
    }
    player.addEventListener("error", (event) => {
      const error = event.detail;
      const fatal = error.severity === shaka.util.Error.Severity.CRITICAL;
      state.errors.push(`shaka/${error.code}${fatal ? " (fatal)" : ""}`);
      if (fatal) state.fatal = `shaka error ${error.code}`;
    });
    player.addEventListener("adaptation", () => {
      const active = player.getVariantTracks().find((track) => track.active);
      state.level = active ? active.height : -1;
    });
    player.attach(video)
      .then(() => player.load(src))
      .then(() => video.play())
      .catch((error) => {
        state.errors.push(`load: ${error && error.code ? "shaka/" + error.code : error}`);
        state.fatal = `load failed: ${error && error.code ? error.code : error}`;
      });
    const rung = () => {
      const active = player.getVariantTracks().find((track) => track.active);
      return active && active.height ? `${active.height}p` : null;
    };
    return { name: "shaka", playingDate: () => player.getPlayheadTimeAsDate(), targetLatency: () => null, rung };
  }

  // Time shift: go `seconds` behind live (0: back to live) inside the DVR window. Relative to the
  // latency measured last, so it works the same for both engines.
  window.streamlabLiveSeek = (seconds) => {
    const latency = state.latencies.length ? state.latencies[state.latencies.length - 1] : null;
    if (latency === null) return false;
    const target = video.currentTime - (seconds - latency);
    const start = video.seekable.length ? video.seekable.start(0) : 0;
    const end = video.seekable.length ? video.seekable.end(video.seekable.length - 1) : target;
    video.currentTime = Math.min(Math.max(target, start), end);
    state.seeks = (state.seeks || 0) + 1;
    return true;
  };
  for (const button of document.querySelectorAll("button[data-behind]")) {
    button.addEventListener("click", () => window.streamlabLiveSeek(Number(button.dataset.behind)));
  }

  let waitingSince = null;
  video.addEventListener("playing", () => {
    if (waitingSince !== null) state.stallSeconds += (performance.now() - waitingSince) / 1000;
    waitingSince = null;
    state.playing = true;
  });
  video.addEventListener("waiting", () => {
    if (state.playing && waitingSince === null) { state.stalls += 1; waitingSince = performance.now(); }
  });

  setInterval(() => {
    state.currentTime = video.currentTime;
    const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    state.frames = quality ? quality.totalVideoFrames : 0;
    // Chromium counts the audio it decoded: the audio rendition (LL-HLS EXT-X-MEDIA group, DASH
    // audio adaptation set) is played, not just listed
    state.audioBytes = video.webkitAudioDecodedByteCount || 0;
    const date = engine.playingDate();
    if (date && !video.paused && video.readyState >= 2) {
      const latency = (Date.now() - date.getTime()) / 1000;
      state.latencies.push(latency);
      state.latency = latency;
      const target = engine.targetLatency();
      if (target !== null && target !== undefined) state.edgeLatencies.push(target);
      document.getElementById("latency").textContent = latency.toFixed(2);
      const rung = engine.rung();  // the rendition on screen, counted in the seconds sampled
      if (rung) state.rungSeconds[rung] = (state.rungSeconds[rung] || 0) + 1;
    }
    document.getElementById("level").textContent = String(state.level);
    document.getElementById("stalls").textContent = String(state.stalls);
    const abr = state.abr;
    document.getElementById("abr").textContent = abr.mode === "served"
      ? `served ${abr.served} · hls.js fallback ${abr.hlsjs} · failed calls ${abr.failures}` : "hls.js";
  }, 1000);
})();
