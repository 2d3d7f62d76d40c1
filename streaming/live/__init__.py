"""Live channels: SRT or RTMP contribution, a one-process live ladder, our LL-HLS/LL-DASH packager and live origin.

Modules, in the order media flows: :mod:`.commands` (the FFmpeg command lines), :mod:`.feeds`
(ingest listeners, the keyframe-aligned switch, the timestamps the health checks read),
:mod:`.ladder` (the rungs, chosen by the ladder model from the first seconds of the feed),
:mod:`.cmaf` (reading the transcoder's fMP4 chunks, video rungs and the AAC audio rendition),
:mod:`.timeline` (parts, segments, DVR), :mod:`.playlist` (LL-HLS tags), :mod:`.mpd` (LL-DASH),
:mod:`.origin` (blocking reload and delta updates), :mod:`.channel` (the process that runs them),
:mod:`.lifecycle` (start/status/stop). :mod:`.clock` is the capture clock that makes the program
date-time glass-to-glass; :mod:`.health` the stream health monitor; :mod:`.drm` live CENC with
the VOD key store and licence flow; :mod:`.catchup` publishes a stopped channel's archive as VOD.
"""
