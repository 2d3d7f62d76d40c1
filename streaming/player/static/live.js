// Live player: hls.js in low-latency mode on ?src=<multivariant playlist URL>.
//
// Every second it records the glass-to-glass latency, now minus the program date-time of the frame
// on screen (hls.js `playingDate`, from EXT-X-PROGRAM-DATE-TIME, which our packager sets to the
// contribution encoder's capture clock). State for tests and tools is on `window.streamlabLive`.
"use strict";

(function () {
  const params = new URLSearchParams(window.location.search);
  const src = params.get("src");
  const video = document.getElementById("video");
  const state = (window.streamlabLive = {
    src, latencies: [], edgeLatencies: [], errors: [], fatal: null, stalls: 0, stallSeconds: 0,
    playing: false, level: -1, frames: 0, currentTime: 0,
  });
  if (!src) { state.fatal = "no ?src= given"; return; }
  if (!window.Hls || !Hls.isSupported()) { state.fatal = "hls.js or MSE unavailable"; return; }
  video.muted = true;
  const hls = new Hls({ lowLatencyMode: true, backBufferLength: 30 });
  window.streamlabHls = hls;
  hls.on(Hls.Events.ERROR, (_event, data) => {
    state.errors.push(`${data.type}/${data.details}${data.fatal ? " (fatal)" : ""}`);
    if (data.fatal) state.fatal = data.details;
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => { state.level = data.level; });
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    video.play().catch((error) => state.errors.push(`play(): ${error}`));
  });
  let waitingSince = null;
  video.addEventListener("playing", () => {
    if (waitingSince !== null) state.stallSeconds += (performance.now() - waitingSince) / 1000;
    waitingSince = null;
    state.playing = true;
  });
  video.addEventListener("waiting", () => {
    if (state.playing && waitingSince === null) { state.stalls += 1; waitingSince = performance.now(); }
  });
  hls.loadSource(src);
  hls.attachMedia(video);

  setInterval(() => {
    state.currentTime = video.currentTime;
    const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    state.frames = quality ? quality.totalVideoFrames : 0;
    const date = hls.playingDate;
    if (date && !video.paused && video.readyState >= 2) {
      const latency = (Date.now() - date.getTime()) / 1000;
      state.latencies.push(latency);
      state.edgeLatencies.push(hls.latency);
      document.getElementById("latency").textContent = latency.toFixed(2);
    }
    document.getElementById("level").textContent = String(state.level);
    document.getElementById("stalls").textContent = String(state.stalls);
  }, 1000);
})();
