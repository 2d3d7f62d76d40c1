// streamlab player page: the catalog from /api/titles, HLS through hls.js, DASH through Shaka Player.
//
// Everything (page, catalog, manifests, segments) comes from the page's own origin, which is the
// edge cache tier when the delivery stack serves it. URL parameters start playback directly, which
// is how the headless-browser checks (streaming/player/browser.py) drive it:
//   ?title=<id>&protocol=hls|dash&autoplay=1&rate=4[&token=<playback token, for protected titles>]
//   [&viewer_token=<signed viewer link token: the viewer the beacons speak for>]
// Runtime config (serving URL, ABR budget, telemetry dimensions) comes from the origin's
// /config.json (configs/catalog.yaml). HLS renditions are chosen by the served ABR model through
// abr.js (BOLA on the page when the service is late or down); QoE beacons go out through telemetry.js.
// State for those checks lives on `window.streamlab`; only *fatal* player errors fail playback
// (hls.js reports recoverable problems such as bufferSeekOverHole as non-fatal errors).
"use strict";

(function () {
  const STATS_INTERVAL_MS = 250;
  const MAX_WARNINGS = 50;
  const PROBE_TYPES = {
    h264: 'video/mp4; codecs="avc1.64001f"',
    hevc: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
    av1: 'video/mp4; codecs="av01.0.05M.08"',
    vp9: 'video/mp4; codecs="vp09.00.10.08"',
    aac: 'audio/mp4; codecs="mp4a.40.2"',
  };

  const video = document.getElementById("video");
  const el = {
    status: document.getElementById("status"),
    stats: document.getElementById("stats"),
    error: document.getElementById("error"),
    nowTitle: document.getElementById("now-title"),
    nowProtocol: document.getElementById("now-protocol"),
    catalog: document.getElementById("catalog"),
    catalogStatus: document.getElementById("catalog-status"),
    catalogCount: document.getElementById("catalog-count"),
    codecSupport: document.getElementById("codec-support"),
    abr: document.getElementById("abr"),
    viewer: document.getElementById("viewer"),
    videoFrame: document.getElementById("video-frame"),
    audioSelect: document.getElementById("audio-language"),
    textSelect: document.getElementById("subtitles"),
    tracks: document.getElementById("tracks"),
  };

  // The object tests read (one reference, updated in place).
  const streamlab = {
    ready: false,
    catalogLoaded: false,
    catalog: [],
    state: "idle",
    protocol: null,
    title: null,
    error: null,
    fatalErrors: [],
    warnings: [],
    currentTime: 0,
    startTime: null,
    duration: null,
    playbackRate: 1,
    decodedFrames: 0,
    droppedFrames: 0,
    bufferAhead_s: 0,
    rendition: null,
    renditionsSeen: [],
    levelSwitches: 0,
    codecSupport: probeCodecs(),
    config: null,
    configError: null,
    playerErrors: 0,
    // ABR decisions, counted per segment requested (page lifetime); segments: this session's.
    abr: { mode: null, decisions: { model: 0, fallback: 0 }, fallbacks: {}, calls: 0, callMs: [], last: null, segments: [] },
    // rebufferCount: stalls of the current session as the beacons count them (>= 100 ms after the first frame).
    beacons: { sent: 0, failed: 0, lastStatus: null, lastError: null, events: [], ended: null, rebufferCount: 0 },
    metricsFlushed: { posts: 0, failed: 0 },
    // Thumbnail tracks (the DASH image AdaptationSet) Shaka found; its UI's seek bar shows them on seek.
    imageTracks: 0,
    shakaUi: false,
    // Language menus: what the title offers and what plays/shows now (null: subtitles off).
    audioLanguages: [],
    textLanguages: [],
    audioLanguage: null,
    textLanguage: null,
    players: {
      hls: window.Hls ? Hls.version : null,
      shaka: window.shaka ? shaka.Player.version : null,
    },
  };
  window.streamlab = streamlab;

  let titles = new Map(); // title_id -> TitleRecord
  let session = null; // {protocol, record, rate, generation, playbackToken, hls?, shaka?}
  let sessionGeneration = 0; // bumps on every play(): late callbacks of an old session are ignored
  let lastRenditionKey = null;
  let pageConfig = null; // /config.json, or defaults without a serving URL when it is unreachable
  let flushedCounts = { decisions: { model: 0, fallback: 0 }, fallbacks: {} };

  // ---------------------------------------------------------------- helpers

  function probeCodecs() {
    const support = {};
    const mse = window.MediaSource;
    for (const [name, type] of Object.entries(PROBE_TYPES)) {
      support[name] = Boolean(mse && mse.isTypeSupported(type));
    }
    return support;
  }

  function node(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = text;
    return element;
  }

  function formatDuration(seconds) {
    if (!Number.isFinite(seconds)) return "–";
    const s = Math.round(seconds);
    const m = Math.floor(s / 60);
    return m > 0 ? `${m}:${String(s % 60).padStart(2, "0")}` : `${seconds.toFixed(1)} s`;
  }

  function formatBitrate(bps) {
    if (!Number.isFinite(bps) || bps <= 0) return "–";
    return bps >= 1e6 ? `${(bps / 1e6).toFixed(1)} Mbit/s` : `${Math.round(bps / 1000)} kbit/s`;
  }

  function protocolLabel(protocol) {
    return protocol === "dash" ? "DASH" : "HLS";
  }

  function mediaUrl(titleId, record, protocol) {
    return `/media/${encodeURIComponent(titleId)}/${manifestFile(record, protocol)}`;
  }

  // ---------------------------------------------------------------- protected titles
  // The catalog's `drm` and `protection` say how a title is encrypted; keys come from the licence
  // server, which wants the viewer's playback token as a bearer token. DASH: CENC through EME
  // ClearKey in Shaka. HLS: the AES-128 variant when there is one (hls.js decrypts it itself and
  // fetches keys from the key URIs), else CENC through EME ClearKey in hls.js.

  function isProtected(record) {
    return Boolean(record.drm && record.drm !== "none");
  }

  function manifestFile(record, protocol) {
    if (protocol === "dash") return record.dash;
    const protection = record.protection;
    return isProtected(record) && protection && protection.hls_aes128 ? protection.hls_aes128 : record.hls;
  }

  function isKeyRequest(url, record) {
    const base = record.protection && record.protection.key_uri_base;
    return (base && url.startsWith(base)) || /\.key(\?|$)/.test(url);
  }

  function hlsConfig(record, token) {
    const config = { enableWorker: true };
    if (!isProtected(record)) return config;
    config.xhrSetup = (xhr, url) => {
      if (!isKeyRequest(url, record)) return;
      xhr.open("GET", url, true);
      xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    };
    const licenseUrl = record.protection && record.protection.license_url;
    if (licenseUrl) {
      config.emeEnabled = true;
      config.drmSystems = { "org.w3.clearkey": { licenseUrl } };
      config.licenseXhrSetup = (xhr, url) => {
        xhr.open("POST", url, true);
        xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      };
    }
    return config;
  }

  function configureShakaDrm(player, record, token) {
    if (!isProtected(record)) return;
    const licenseUrl = record.protection && record.protection.license_url;
    if (licenseUrl) player.configure({ drm: { servers: { "org.w3.clearkey": licenseUrl } } });
    player.getNetworkingEngine().registerRequestFilter((type, request) => {
      if (type === shaka.net.NetworkingEngine.RequestType.LICENSE) request.headers.Authorization = `Bearer ${token}`;
    });
  }

  function bufferAhead(time) {
    const ranges = video.buffered;
    for (let i = 0; i < ranges.length; i++) {
      if (ranges.start(i) <= time + 0.1 && time < ranges.end(i)) return ranges.end(i) - time;
    }
    return 0;
  }

  function decodedFrameCount() {
    if (typeof video.webkitDecodedFrameCount === "number") return video.webkitDecodedFrameCount;
    const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    return quality ? quality.totalVideoFrames : 0;
  }

  function droppedFrameCount() {
    const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    return quality ? quality.droppedVideoFrames : 0;
  }

  // The catalog's rendition for a player-reported resolution (Shaka does not expose folder names).
  function renditionId(width, height, bitrate) {
    const record = session && session.record;
    if (!record) return null;
    const same = record.renditions.filter((r) => r.width === width && r.height === height);
    if (same.length === 1) return same[0].id;
    if (same.length > 1 && Number.isFinite(bitrate)) {
      same.sort((a, b) => Math.abs(a.bandwidth_bps - bitrate) - Math.abs(b.bandwidth_bps - bitrate));
      return same[0].id;
    }
    return null;
  }

  // Why nothing was playable: the title's video codecs against what this browser's MSE decodes.
  function codecHint() {
    const record = session && session.record;
    if (!record) return "";
    const codecs = [...new Set(record.renditions.map((r) => `${r.codec} (${r.codecs})`))].join(", ");
    const decodes = Object.entries(streamlab.codecSupport).filter(([, ok]) => ok).map(([name]) => name).join(", ");
    return ` — this title's video is ${codecs}, but this browser decodes only ${decodes}`;
  }

  // ---------------------------------------------------------------- state and display

  function setState(state, message) {
    streamlab.state = state;
    el.status.dataset.state = state;
    if (message) el.status.textContent = message;
  }

  function showError(text) {
    el.error.hidden = false;
    el.error.textContent = text;
  }

  function clearError() {
    el.error.hidden = true;
    el.error.textContent = "";
  }

  // A fatal error ends this session: record it for tests and show it to the person watching.
  function fail(source, message, detail) {
    const entry = { source, message, detail: detail || null, at_s: video.currentTime || 0 };
    streamlab.fatalErrors.push(entry);
    if (!streamlab.error) streamlab.error = `${source}: ${message}`;
    setState("error", `Playback failed (${source}).`);
    showError(streamlab.error + (streamlab.fatalErrors.length > 1 ? ` (+${streamlab.fatalErrors.length - 1} more)` : ""));
    console.error(`[streamlab] fatal ${source} error: ${message}`);
    if (session && session.telemetry) session.telemetry.end(`${source}:${message.split(" ").slice(0, 2).join("_")}`);
  }

  function warn(source, message) {
    if (streamlab.warnings.length < MAX_WARNINGS) streamlab.warnings.push({ source, message, at_s: video.currentTime || 0 });
  }

  function noteRendition(info) {
    if (!info || !info.height) return;
    const key = `${info.width}x${info.height}@${info.bitrate_bps}`;
    if (key === lastRenditionKey) return;
    if (lastRenditionKey !== null) streamlab.levelSwitches += 1;
    lastRenditionKey = key;
    streamlab.rendition = info;
    const label = info.id || `${info.height}p`;
    if (!streamlab.renditionsSeen.includes(label)) streamlab.renditionsSeen.push(label);
  }

  function currentRendition() {
    if (!session) return null;
    if (session.hls) {
      const level = session.hls.levels[session.hls.currentLevel];
      if (!level) return null;
      const uri = Array.isArray(level.url) ? level.url[0] : level.url || "";
      const match = /\/([^/?]+)\/[^/?]+\.m3u8/.exec(uri);
      return {
        id: match ? decodeURIComponent(match[1]) : renditionId(level.width, level.height, level.bitrate),
        width: level.width,
        height: level.height,
        bitrate_bps: level.bitrate,
        codecs: level.videoCodec || null,
      };
    }
    if (session.shaka) {
      const track = session.shaka.getVariantTracks().find((t) => t.active);
      if (!track) return null;
      return {
        id: renditionId(track.width, track.height, track.videoBandwidth || track.bandwidth),
        width: track.width,
        height: track.height,
        bitrate_bps: track.videoBandwidth || track.bandwidth,
        codecs: track.videoCodec || null,
      };
    }
    return null;
  }

  function refreshStats() {
    if (session) renderTrackMenus(); // a language switch lands with the next segments, not at the click
    const time = video.currentTime || 0;
    streamlab.currentTime = time;
    streamlab.duration = Number.isFinite(video.duration) ? video.duration : null;
    streamlab.playbackRate = video.playbackRate;
    streamlab.decodedFrames = decodedFrameCount();
    streamlab.droppedFrames = droppedFrameCount();
    streamlab.bufferAhead_s = bufferAhead(time);
    noteRendition(currentRendition());
    if (!session) return;
    const r = streamlab.rendition;
    const parts = [];
    if (r) parts.push(`${r.id || r.height + "p"} · ${r.width}×${r.height} · ${formatBitrate(r.bitrate_bps)}`);
    parts.push(`buffer ${streamlab.bufferAhead_s.toFixed(1)} s`);
    parts.push(`${formatDuration(time)} / ${formatDuration(streamlab.duration)}`);
    parts.push(`${streamlab.decodedFrames} frames decoded`);
    parts.push(`${streamlab.levelSwitches} switch${streamlab.levelSwitches === 1 ? "" : "es"}`);
    if (video.playbackRate !== 1) parts.push(`${video.playbackRate}×`);
    el.stats.textContent = parts.join("  ·  ");
  }

  // ---------------------------------------------------------------- page config, ABR rule, beacons

  const DEFAULT_CONFIG = {
    serving_url: "",
    viewer_id: "anonymous",
    signed_in: false,
    abr: { decide_budget_ms: 50, refresh_s: 1, max_samples: 8, max_buffer_s: 30 },
    bola: { minimum_buffer_s: 10, target_buffer_s: 30 },
    telemetry: { beacons: false, heartbeat_interval_s: 5, device: "web", region: "local", edge: "edge", metrics_flush_s: 5 },
  };

  // The origin's /config.json (configs/catalog.yaml) with the signed viewer; without it the page
  // still plays, deciding with BOLA and sending no beacons, and says so.
  async function loadPageConfig() {
    const viewerToken = new URLSearchParams(location.search).get("viewer_token");
    const url = "/config.json" + (viewerToken ? `?viewer_token=${encodeURIComponent(viewerToken)}` : "");
    try {
      const response = await fetch(url, { cache: "no-store" });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
      pageConfig = body;
    } catch (err) {
      streamlab.configError = `page config unavailable (${err.message}): deciding with BOLA, no beacons`;
      warn("config", streamlab.configError);
      pageConfig = DEFAULT_CONFIG;
    }
    const browse = document.getElementById("browse-link");
    browse.href = viewerToken && pageConfig.signed_in ? `/browse?viewer_token=${encodeURIComponent(viewerToken)}` : "/browse";
    streamlab.config = pageConfig;
    el.viewer.textContent = pageConfig.signed_in ? `viewer ${pageConfig.viewer_id}` : "signed out";
    if (streamlab.configError) el.viewer.textContent += ` · ${streamlab.configError}`;
  }

  function newSessionId() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return "s-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function abrConfig(current) {
    const record = current.record;
    const segments = record.renditions.length ? record.renditions[0].segment_count : 0;
    const totalChunks = segments || Math.max(1, Math.ceil(record.duration_s / record.segment_duration_s));
    streamlab.abr.mode = pageConfig.serving_url ? "served" : "bola";
    const rule = StreamlabAbr.createHlsAbrController({
      servingUrl: pageConfig.serving_url,
      budgetMs: pageConfig.abr.decide_budget_ms,
      refreshS: pageConfig.abr.refresh_s,
      maxSamples: pageConfig.abr.max_samples,
      bola: pageConfig.bola,
      sessionId: current.sessionId,
      segmentDurationS: record.segment_duration_s,
      totalChunks,
      bufferAheadS: () => bufferAhead(video.currentTime || 0),
      stats: streamlab.abr,
    });
    // autoStartLoad off: the rule starts loading once the first decision is in (or its budget is spent).
    const bufferGoalS = pageConfig.abr.max_buffer_s || 30;
    return {
      abrController: rule.abrController,
      fLoader: rule.fLoader,
      testBandwidth: false,
      autoStartLoad: false,
      maxBufferLength: bufferGoalS,
      maxMaxBufferLength: bufferGoalS,
    };
  }

  function telemetrySample() {
    const r = streamlab.rendition;
    let throughputBps = NaN;
    if (session && session.hls) throughputBps = session.hls.bandwidthEstimate;
    else if (session && session.shaka) throughputBps = session.shaka.getStats().estimatedBandwidth;
    return {
      bitrateKbps: r && r.bitrate_bps ? r.bitrate_bps / 1000 : 0,
      throughputKbps: Number.isFinite(throughputBps) ? throughputBps / 1000 : 0,
      bufferS: bufferAhead(video.currentTime || 0),
      switches: streamlab.levelSwitches,
      errors: streamlab.playerErrors,
    };
  }

  function startTelemetry(record, sessionId) {
    const t = pageConfig.telemetry;
    return StreamlabTelemetry.createSession({
      servingUrl: pageConfig.serving_url,
      enabled: t.beacons,
      intervalS: t.heartbeat_interval_s,
      viewerId: pageConfig.viewer_id,
      sessionId,
      titleId: record.title_id,
      device: t.device,
      region: t.region,
      edge: t.edge,
      video,
      sample: telemetrySample,
      stats: streamlab.beacons,
    });
  }

  function renderAbr() {
    const a = streamlab.abr;
    if (!session || session.protocol !== "hls") {
      el.abr.textContent = session ? "ABR: Shaka Player's own (the served rule drives hls.js)" : "\u00a0";
      el.abr.dataset.source = session ? "player" : "";
      return;
    }
    const last = a.last;
    const reasons = Object.entries(a.fallbacks).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(", ");
    el.abr.dataset.source = last ? last.source : "";
    el.abr.textContent = `ABR ${a.mode === "served" ? "/abr/decide" : "BOLA only"} · model ${a.decisions.model} · fallback ${a.decisions.fallback}`
      + (reasons ? ` (${reasons})` : "")
      + (last ? ` · last: ${last.source} — ${last.reason}` : "");
  }

  // The decision counters since the last post, to the origin's /_player_metrics (Prometheus there).
  function flushMetrics() {
    const a = streamlab.abr;
    const delta = { decisions: {}, fallbacks: {} };
    let any = false;
    for (const source of ["model", "fallback"]) {
      delta.decisions[source] = a.decisions[source] - flushedCounts.decisions[source];
      any = any || delta.decisions[source] > 0;
    }
    for (const [reason, count] of Object.entries(a.fallbacks)) {
      const d = count - (flushedCounts.fallbacks[reason] || 0);
      if (d > 0) delta.fallbacks[reason] = d;
    }
    if (!any) return;
    flushedCounts = { decisions: Object.assign({}, a.decisions), fallbacks: Object.assign({}, a.fallbacks) };
    fetch("/_player_metrics", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(delta),
      keepalive: true,
    }).then((response) => {
      if (response.ok) streamlab.metricsFlushed.posts += 1;
      else streamlab.metricsFlushed.failed += 1;
    }, () => {
      streamlab.metricsFlushed.failed += 1;
    });
  }

  // ---------------------------------------------------------------- playback

  function applyRate() {
    if (!session || !(session.rate > 0)) return;
    video.defaultPlaybackRate = session.rate;
    if (video.playbackRate !== session.rate) video.playbackRate = session.rate;
  }

  async function teardown() {
    const old = session;
    session = null;
    if (!old) return;
    if (old.telemetry) old.telemetry.end(null);
    if (old.hls) old.hls.destroy();
    if (old.shaka) {
      try {
        // The UI overlay owns the player: destroying it removes its controls and destroys the player.
        await (old.shakaUi || old.shaka).destroy();
      } catch (err) {
        warn("shaka", `destroy: ${err}`);
      }
      video.controls = true; // the overlay had taken the native controls away; hls.js sessions use them
    }
    video.removeAttribute("src");
    video.load();
  }

  function resetState(titleId, protocol) {
    Object.assign(streamlab, {
      state: "loading",
      protocol,
      title: titleId,
      error: null,
      fatalErrors: [],
      warnings: [],
      currentTime: 0,
      startTime: null,
      duration: null,
      decodedFrames: 0,
      droppedFrames: 0,
      bufferAhead_s: 0,
      rendition: null,
      renditionsSeen: [],
      levelSwitches: 0,
      playerErrors: 0,
    });
    streamlab.abr.segments = [];
    streamlab.abr.last = null;
    streamlab.beacons.rebufferCount = 0;
    streamlab.imageTracks = 0;
    streamlab.shakaUi = false;
    streamlab.audioLanguages = [];
    streamlab.textLanguages = [];
    streamlab.audioLanguage = null;
    streamlab.textLanguage = null;
    if (el.tracks) el.tracks.hidden = true;
    shownTracks = "";
    lastRenditionKey = null;
    clearError();
  }

  async function play(titleId, protocol, options) {
    const opts = Object.assign({ rate: 1, muted: false, autoplay: true }, options || {});
    await teardown();
    const generation = ++sessionGeneration;
    resetState(titleId, protocol);
    markPlaying(titleId, protocol);
    const record = titles.get(titleId) || null;
    el.nowTitle.textContent = record ? record.name : titleId;
    el.nowProtocol.hidden = false;
    el.nowProtocol.textContent = protocolLabel(protocol);
    setState("loading", `Loading ${record ? record.name : titleId} over ${protocolLabel(protocol)}…`);

    if (protocol !== "hls" && protocol !== "dash") {
      fail("page", `unknown protocol ${JSON.stringify(protocol)}: use hls or dash`);
      return;
    }
    if (!record) {
      const known = [...titles.keys()];
      fail("catalog", `title ${JSON.stringify(titleId)} is not in the catalog` + (known.length ? ` (available: ${known.join(", ")})` : " (the catalog is empty)"));
      return;
    }
    if (!record[protocol]) {
      fail("catalog", `title ${JSON.stringify(titleId)} is not packaged for ${protocolLabel(protocol)}`);
      return;
    }
    if (isProtected(record) && !opts.token) {
      fail("drm", `title ${JSON.stringify(titleId)} is protected (${record.drm}): open it with a playback token, ?title=${titleId}&token=<token>`);
      return;
    }

    session = { protocol, record, rate: opts.rate, generation, playbackToken: opts.token || null };
    session.sessionId = newSessionId();
    session.telemetry = startTelemetry(record, session.sessionId);
    video.muted = opts.muted;
    const url = mediaUrl(titleId, record, protocol);
    if (protocol === "hls") startHls(url);
    else await startShaka(url);
    if (!session || session.generation !== generation) return;
    applyRate();
    if (!opts.autoplay) {
      setState("paused", `${record.name} is ready over ${protocolLabel(protocol)}: press play.`);
      return;
    }
    try {
      await video.play();
    } catch (err) {
      if (session && session.generation === generation && err && err.name === "NotAllowedError") {
        setState("paused", "Autoplay was blocked by the browser: press play.");
      } else if (err && err.name !== "AbortError") {
        warn("video", `play(): ${err}`);
      }
    }
  }

  function startHls(url) {
    if (!window.Hls) {
      fail("hls.js", "hls.js did not load (static/vendor missing? run `make player`)");
      return;
    }
    if (!Hls.isSupported()) {
      fail("hls.js", "this browser has no Media Source Extensions support for hls.js");
      return;
    }
    const hls = new Hls(Object.assign(hlsConfig(session.record, session.playbackToken), abrConfig(session)));
    session.hls = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      const status = data.response && data.response.code ? ` (HTTP ${data.response.code})` : "";
      const where = data.url || (data.frag && data.frag.url) || (data.context && data.context.url) || "";
      let message = `${data.type} ${data.details}${status}${where ? " at " + where : ""}`;
      if (data.details === "manifestIncompatibleCodecsError") message += codecHint();
      streamlab.playerErrors += 1;
      if (data.fatal) fail("hls.js", message, data.reason || (data.error && String(data.error)) || null);
      else warn("hls.js", message);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      applyRate();
      if (!data.levels.length) fail("hls.js", "no variant in the multivariant playlist is playable in this browser");
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, () => refreshStats());
    for (const name of ["AUDIO_TRACKS_UPDATED", "AUDIO_TRACK_SWITCHED", "SUBTITLE_TRACKS_UPDATED", "SUBTITLE_TRACK_SWITCH"]) {
      hls.on(Hls.Events[name], () => renderTrackMenus());
    }
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  async function startShaka(url) {
    if (!window.shaka) {
      fail("shaka", "Shaka Player did not load (static/vendor missing? run `make player`)");
      return;
    }
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) {
      fail("shaka", "this browser is not supported by Shaka Player");
      return;
    }
    const player = new shaka.Player();
    session.shaka = player;
    session.shakaUi = shakaOverlay(player);
    configureShakaDrm(player, session.record, session.playbackToken);
    player.addEventListener("error", (event) => shakaError(event.detail));
    player.addEventListener("adaptation", () => refreshStats());
    player.addEventListener("variantchanged", () => refreshStats());
    try {
      await player.attach(video);
      await player.load(url);
      if (session && session.shaka === player) {
        streamlab.imageTracks = player.getImageTracks().length;
        player.addEventListener("trackschanged", () => renderTrackMenus());
        player.addEventListener("variantchanged", () => renderTrackMenus());
        player.addEventListener("textchanged", () => renderTrackMenus());
        renderTrackMenus();
      }
    } catch (err) {
      if (session && session.shaka === player) shakaError(err);
    }
  }

  // Shaka Player's own UI over the video frame: its seek bar shows the thumbnail of the position being
  // sought (hover, drag, keys) from the title's image track, cut from the right sprite sheet. It also
  // shows subtitles in its own text layer over the video (not the video element's text tracks).
  function shakaOverlay(player) {
    const overlay = new shaka.ui.Overlay(player, el.videoFrame, video);
    // No cast receiver, so Shaka never loads the cast sender script from its CDN.
    overlay.configure({ castReceiverAppId: "", castSenderUrl: "" });
    streamlab.shakaUi = true;
    return overlay;
  }

  // Audio language and subtitle menus (Shaka Player over DASH; hls.js over HLS). The values are
  // BCP 47 tags from the manifests (EXT-X-MEDIA LANGUAGE / AdaptationSet@lang).
  function trackState() {
    if (session && session.shaka) {
      const player = session.shaka;
      const audioTracks = player.getAudioTracks(); // Shaka 5: one entry per language/role/channel layout
      const audio = [...new Set(audioTracks.map((t) => t.language).filter(Boolean))];
      const active = audioTracks.find((t) => t.active);
      const texts = player.getTextTracks();
      const shown = texts.find((t) => t.active) || null; // Shaka 5: the selected text track is the shown one
      return { audio, text: texts.map((t) => t.language), audioNow: active ? active.language : null,
        textNow: shown ? shown.language : null };
    }
    if (session && session.hls) {
      const hls = session.hls;
      const audio = (hls.audioTracks || []).map((t) => t.lang).filter(Boolean);
      const text = (hls.subtitleTracks || []).map((t) => t.lang);
      const a = hls.audioTracks && hls.audioTracks[hls.audioTrack];
      const t = hls.subtitleTrack >= 0 && hls.subtitleTracks ? hls.subtitleTracks[hls.subtitleTrack] : null;
      return { audio, text, audioNow: a ? a.lang : null, textNow: t ? t.lang : null };
    }
    return { audio: [], text: [], audioNow: null, textNow: null };
  }

  function fillSelect(select, values, current, offLabel) {
    select.replaceChildren();
    if (offLabel) select.append(new Option(offLabel, ""));
    for (const value of values) select.append(new Option(value, value));
    select.value = current || "";
  }

  function renderTrackMenus() {
    try {
      updateTrackMenus();
    } catch (err) {
      warn("page", `language menus: ${err}`); // a menu problem must not stop playback
    }
  }

  let shownTracks = "";

  function updateTrackMenus() {
    const state = trackState();
    const key = JSON.stringify(state);
    if (key === shownTracks) return; // rebuilding an open <select> would close it under the viewer
    shownTracks = key;
    streamlab.audioLanguages = state.audio;
    streamlab.textLanguages = state.text;
    streamlab.audioLanguage = state.audioNow;
    streamlab.textLanguage = state.textNow;
    if (!el.tracks) return;
    el.tracks.hidden = state.audio.length < 2 && state.text.length === 0;
    fillSelect(el.audioSelect, state.audio, state.audioNow, null);
    fillSelect(el.textSelect, state.text, state.textNow, "off");
  }

  function selectAudioLanguage(language) {
    if (session && session.shaka) {
      // Shaka 5 removed selectAudioLanguage (calling it threw, so the menu never switched): an
      // AudioTrack carries the language with its role and channel count, so a language offered only in
      // 5.1 is still chosen. Shaka clears the old language's buffer, so the switch is heard at once.
      const player = session.shaka;
      const track = player.getAudioTracks().find((t) => t.language === language);
      if (track) player.selectAudioTrack(track);
    } else if (session && session.hls) {
      const index = session.hls.audioTracks.findIndex((t) => t.lang === language);
      if (index >= 0) session.hls.audioTrack = index;
    }
    renderTrackMenus();
  }

  function selectTextLanguage(language) {
    if (session && session.shaka) {
      const player = session.shaka;
      const track = player.getTextTracks().find((t) => t.language === language);
      player.selectTextTrack(track || null); // Shaka 5 has no separate visibility switch: null turns text off
    } else if (session && session.hls) {
      session.hls.subtitleTrack = language ? session.hls.subtitleTracks.findIndex((t) => t.lang === language) : -1;
      session.hls.subtitleDisplay = Boolean(language);
    }
    renderTrackMenus();
  }

  function shakaError(err) {
    if (!err) return;
    const code = err.code;
    const names = window.shaka && shaka.util && shaka.util.Error && shaka.util.Error.Code;
    const name = names ? Object.keys(names).find((key) => names[key] === code) : null;
    const data = Array.isArray(err.data) ? err.data : [];
    // BAD_HTTP_STATUS and HTTP_ERROR carry [uri, status, body, headers, requestType, responseUri].
    const detail = code === 1001
      ? `HTTP ${data[1]} at ${data[5] || data[0]}`
      : data.filter((d) => typeof d !== "object" || d === null).map(String).join(", ");
    let message = `error ${code}${name ? " " + name : ""}${detail ? ": " + detail : ""}`;
    if (code === 4032 /* CONTENT_UNSUPPORTED_BY_BROWSER */) message += codecHint();
    if (code === 7000 /* LOAD_INTERRUPTED */) return;
    streamlab.playerErrors += 1;
    // Severity 1 is RECOVERABLE (Shaka retries); 2 is CRITICAL.
    if (err.severity === 1) warn("shaka", message);
    else fail("shaka", message);
  }

  // ---------------------------------------------------------------- video element events

  video.addEventListener("loadedmetadata", applyRate);
  if (el.audioSelect) el.audioSelect.addEventListener("change", () => selectAudioLanguage(el.audioSelect.value));
  if (el.textSelect) el.textSelect.addEventListener("change", () => selectTextLanguage(el.textSelect.value));
  video.addEventListener("playing", () => {
    if (!session) return;
    applyRate();
    if (streamlab.startTime === null) streamlab.startTime = video.currentTime;
    const record = session.record;
    const rate = video.playbackRate !== 1 ? ` at ${video.playbackRate}×` : "";
    setState("playing", `Playing ${record.name} over ${protocolLabel(session.protocol)}${rate}.`);
  });
  video.addEventListener("waiting", () => {
    if (session && streamlab.state !== "error") setState("buffering", "Buffering…");
  });
  video.addEventListener("pause", () => {
    if (session && streamlab.state === "playing" && !video.ended) setState("paused", "Paused.");
  });
  video.addEventListener("ended", () => {
    if (session && streamlab.state !== "error") {
      refreshStats();
      if (session.telemetry) session.telemetry.end(null);
      setState("ended", `Finished ${session.record.name}.`);
    }
  });
  video.addEventListener("error", () => {
    if (!session || !video.error) return;
    const codes = { 1: "MEDIA_ERR_ABORTED", 2: "MEDIA_ERR_NETWORK", 3: "MEDIA_ERR_DECODE", 4: "MEDIA_ERR_SRC_NOT_SUPPORTED" };
    fail("video", `${codes[video.error.code] || "error " + video.error.code}${video.error.message ? ": " + video.error.message : ""}`);
  });

  // ---------------------------------------------------------------- catalog

  function markPlaying(titleId, protocol) {
    for (const card of el.catalog.querySelectorAll(".title-card")) {
      const active = card.dataset.titleId === titleId;
      card.classList.toggle("active", active);
      for (const button of card.querySelectorAll("button")) {
        button.classList.toggle("active", active && button.dataset.protocol === protocol);
      }
    }
  }

  function renderCatalog(records) {
    el.catalog.replaceChildren();
    el.catalogCount.textContent = records.length ? `${records.length} title${records.length === 1 ? "" : "s"}` : "";
    el.catalogStatus.hidden = records.length > 0;
    if (!records.length) el.catalogStatus.textContent = "No titles yet: publish one with `streamlab stream ingest`.";
    for (const record of records) {
      const card = node("li", "title-card");
      card.dataset.titleId = record.title_id;

      const head = node("div", "title-head");
      head.append(node("span", "title-name", record.name), node("span", "title-id", record.title_id));
      card.append(head);

      const meta = node("div", "title-meta");
      const source = record.source || {};
      meta.append(node("span", null, formatDuration(record.duration_s)));
      if (source.width) meta.append(node("span", null, `source ${source.width}×${source.height}`));
      if (record.audio) meta.append(node("span", null, `AAC ${record.audio.bitrate_kbps} kbit/s`));
      meta.append(node("span", null, `ladder: ${record.ladder}`));
      if (record.drm && record.drm !== "none") meta.append(node("span", "badge drm", record.drm));
      card.append(meta);

      const rungs = node("div", "renditions");
      const sorted = [...record.renditions].sort((a, b) => a.height - b.height || a.bitrate_kbps - b.bitrate_kbps);
      for (const r of sorted) {
        const chip = node("span", "chip" + (r.browser_playable ? "" : " unplayable"), `${r.height}p ${r.codec} ${formatBitrate(r.average_bandwidth_bps)}`);
        chip.title = `${r.id}: ${r.width}×${r.height}, ${r.codecs}, ${r.segment_count} segments` + (r.browser_playable ? "" : " (not decodable in this browser)");
        rungs.append(chip);
      }
      card.append(rungs);

      const actions = node("div", "actions");
      for (const protocol of ["hls", "dash"]) {
        const button = node("button", "play", `▶ ${protocolLabel(protocol)}`);
        button.type = "button";
        button.dataset.protocol = protocol;
        button.setAttribute("aria-label", `Play ${record.name} over ${protocolLabel(protocol)}`);
        if (!record[protocol]) {
          button.disabled = true;
          button.title = `not packaged for ${protocolLabel(protocol)}`;
        }
        button.addEventListener("click", () => {
          const token = new URLSearchParams(location.search).get("token");
          const params = new URLSearchParams({ title: record.title_id, protocol });
          if (token) params.set("token", token);
          history.replaceState(null, "", `?${params}`);
          play(record.title_id, protocol, { rate: 1, muted: false, token });
        });
        actions.append(button);
      }
      card.append(actions);
      el.catalog.append(card);
    }
  }

  async function loadCatalog() {
    let response;
    try {
      response = await fetch("/api/titles", { cache: "no-store" });
    } catch (err) {
      throw new Error(`could not reach /api/titles: ${err}`);
    }
    if (!response.ok) throw new Error(`/api/titles answered HTTP ${response.status}`);
    const records = await response.json();
    if (!Array.isArray(records)) throw new Error("/api/titles did not return a list");
    return records;
  }

  function renderCodecSupport() {
    const names = { h264: "H.264", hevc: "HEVC", av1: "AV1", vp9: "VP9", aac: "AAC" };
    const parts = Object.entries(streamlab.codecSupport).map(([key, ok]) => `${names[key]} ${ok ? "✓" : "✗"}`);
    el.codecSupport.textContent = `This browser decodes (MSE): ${parts.join("  ")}`;
  }

  // ---------------------------------------------------------------- start

  async function main() {
    renderCodecSupport();
    await loadPageConfig();
    streamlab.abr.warm = await StreamlabAbr.warmUp(pageConfig.serving_url);
    setInterval(renderAbr, STATS_INTERVAL_MS);
    setInterval(flushMetrics, pageConfig.telemetry.metrics_flush_s * 1000);
    window.addEventListener("pagehide", () => {
      if (session && session.telemetry) session.telemetry.end(null);
      flushMetrics();
    });
    setInterval(refreshStats, STATS_INTERVAL_MS);
    const params = new URLSearchParams(location.search);
    try {
      const records = await loadCatalog();
      titles = new Map(records.map((r) => [r.title_id, r]));
      streamlab.catalog = records.map((r) => r.title_id);
      renderCatalog(records);
      streamlab.catalogLoaded = true;
    } catch (err) {
      el.catalogStatus.textContent = `Catalog unavailable: ${err.message}`;
      el.catalogStatus.classList.add("error-text");
      if (params.get("title")) {
        streamlab.ready = true;
        resetState(params.get("title"), params.get("protocol") || "hls");
        fail("catalog", err.message);
        return;
      }
    }
    streamlab.ready = true;
    const titleId = params.get("title");
    if (titleId) {
      const protocol = (params.get("protocol") || "hls").toLowerCase();
      const rate = Number.parseFloat(params.get("rate") || "1");
      const autoplay = params.get("autoplay") === "1";
      await play(titleId, protocol, {
        rate: Number.isFinite(rate) && rate > 0 ? rate : 1,
        muted: autoplay,
        autoplay,
        token: params.get("token"),
      });
    }
  }

  main();
})();
