"""Live channels: SRT contribution, a one-process live ladder, our LL-HLS packager and live origin.

Modules, in the order media flows: :mod:`.commands` (the FFmpeg command lines), :mod:`.feeds`
(ingest listeners and the keyframe-aligned switch), :mod:`.cmaf` (reading the transcoder's
fMP4 chunks), :mod:`.timeline` (parts, segments, DVR), :mod:`.playlist` (LL-HLS tags),
:mod:`.origin` (blocking reload and delta updates), :mod:`.channel` (the process that runs them),
:mod:`.lifecycle` (start/status/stop). :mod:`.clock` is the capture clock that makes the program
date-time glass-to-glass. LL-DASH, the health monitor and live DRM plug in beside the playlist
writer and the channel's supervisor; they read the same timelines.
"""
