"""HDR10 signalling in the DASH MPD: the colour description of a PQ AdaptationSet made essential.

Shaka Packager v3.8 reads the HEVC VUI and already writes what HLS needs (``VIDEO-RANGE=PQ`` on an
HDR10 variant, ``VIDEO-RANGE=SDR`` on the others; the HEVC variants have their own master, so a
device given ``master.m3u8`` never sees HEVC) and, in DASH, the ISO/IEC 23001-8 (CICP) code points as
``SupplementalProperty`` elements. A *supplemental* property may be ignored: a DASH client without
HDR would then play PQ pictures as SDR, washed out. DASH-IF IOP (v4.3, 10.2.5 / 6.2.5) signals
HDR10 with ``EssentialProperty``, which a client that does not understand it must treat as "this
AdaptationSet is not for me", so the PQ set is moved to Essential here; SDR sets keep Shaka's
Supplemental (BT.709 transfer is what every client assumes anyway).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
CICP_TRANSFER = "urn:mpeg:mpegB:cicp:TransferCharacteristics"
CICP_PRIMARIES = "urn:mpeg:mpegB:cicp:ColourPrimaries"
CICP_MATRIX = "urn:mpeg:mpegB:cicp:MatrixCoefficients"
CICP_SCHEMES = (CICP_PRIMARIES, CICP_TRANSFER, CICP_MATRIX)
PQ_TRANSFER = "16"  # H.273 TransferCharacteristics: SMPTE ST 2084
# DASH schema (RepresentationBaseType) order: these come before EssentialProperty, SupplementalProperty after
_BEFORE_ESSENTIAL = ("FramePacking", "AudioChannelConfiguration", "ContentProtection", "OutputProtection",
                     "EssentialProperty")


def _tag(name: str) -> str:
    return f"{{{MPD_NS}}}{name}"


def make_hdr_essential(root: ET.Element) -> int:
    """Turn the CICP properties of every PQ AdaptationSet into EssentialProperty; returns how many sets.

    Idempotent (a set already Essential is left alone), so repackaging a title twice gives one MPD.
    """
    changed = 0
    for adaptation in root.iter(_tag("AdaptationSet")):
        supplemental = [p for p in adaptation.findall(_tag("SupplementalProperty"))
                        if p.get("schemeIdUri") in CICP_SCHEMES]
        if not any(p.get("schemeIdUri") == CICP_TRANSFER and p.get("value") == PQ_TRANSFER for p in supplemental):
            continue
        for prop in supplemental:
            adaptation.remove(prop)
        children = list(adaptation)
        at = max((i + 1 for i, c in enumerate(children) if c.tag in {_tag(n) for n in _BEFORE_ESSENTIAL}), default=0)
        for offset, prop in enumerate(sorted(supplemental, key=lambda p: CICP_SCHEMES.index(p.get("schemeIdUri", "")))):
            essential = ET.Element(_tag("EssentialProperty"), dict(prop.attrib))
            essential.tail = prop.tail
            adaptation.insert(at + offset, essential)
        changed += 1
    return changed


def signal_hdr(mpd_path: Path) -> int:
    """:func:`make_hdr_essential` on an MPD file, written back only when something changed."""
    tree = ET.parse(mpd_path, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    changed = make_hdr_essential(tree.getroot())
    if changed:
        tree.write(mpd_path, xml_declaration=True, encoding="UTF-8")
    return changed
