"""Content protection: ISO/IEC 23001-7 Common Encryption with W3C ClearKey, and HLS AES-128.

Commercial DRM systems (Widevine, FairPlay, PlayReady) need vendor licences; their common layer is
open and testable, so that is what streamlab implements end to end: CSPRNG content keys wrapped
under a master key (:mod:`.keys`), signed expiring playback tokens (:mod:`.tokens`), an entitlement
store (:mod:`.entitlements`), and a licence server speaking the W3C ClearKey exchange plus the HLS
key URI (:mod:`.license_server`).
"""
