"""Beacons through a Redis Stream to the empirical-Bayes detector: at-least-once delivery, exactly-once effect.

Why Redis Streams: a consumer group remembers what each consumer was handed and not yet
acknowledged (the pending list), so a detector that dies mid-batch gets the same entries back when
it restarts. That alone is *at least once*; the detector makes the effect *exactly once* by
checkpointing its whole state together with the id of the last entry that state has counted:

1. read a batch (first the pending entries of a previous life, ``XREADGROUP ... 0``, then new ``>``);
2. skip entries at or before the checkpoint's ``last_id`` (counted already), ingest the rest;
3. write the checkpoint atomically (state, ``last_id``, and the alerts confirmed but not yet delivered);
4. deliver those alerts (JSONL sink, deduplicated by the alert's stable id; optional webhook),
   mark them delivered in the checkpoint;
5. ``XACK`` the batch.

A crash before 3 replays the batch from the previous checkpoint (same events, same state, so the
same alerts, since detection runs on event time); a crash between 3 and 5 finds the undelivered
alerts in the checkpoint and the entries still pending, which step 2 skips. No event is counted
twice, and no alert is lost or sent twice.

The checkpoint is the detector's own private state in a directory only it writes; it is a pickle
for that reason (the registry's artifacts, which others publish, never are).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlab.core.errors import StreamlabError
from streamlab.models.qoe.alerts import Alert
from streamlab.models.qoe.eb import EbDetector, EbSettings
from streamlab.models.qoe.schema_v2 import parse_record
from streamlab.models.qoe.settings import load_settings

REDIS_SERVER = "/usr/bin/redis-server"
STREAM = "qoe:beacons"
GROUP = "qoe-detector"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private ``redis-server`` child on a free loopback port with a temp dir, stopped by its PID."""

    def __init__(self, binary: str = REDIS_SERVER) -> None:
        self.binary = binary
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="streamlab-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RedisServer:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                                      "--save", "", "--appendonly", "yes", "--protected-mode", "yes"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()
        for _ in range(200):
            try:
                client.ping()
                return self
            except Exception:  # noqa: BLE001 - not up yet
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}") from None
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING in 10 s")

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=False)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def publish(client, events: list[dict[str, Any]] | list[str], stream: str = STREAM, chunk: int = 1000) -> int:  # type: ignore[no-untyped-def]
    """XADD every event (its JSON text under field ``e``); returns how many were added."""
    n = 0
    for i in range(0, len(events), chunk):
        pipe = client.pipeline(transaction=False)
        for e in events[i:i + chunk]:
            pipe.xadd(stream, {"e": e if isinstance(e, str) else json.dumps(e)})
        pipe.execute()
        n += len(events[i:i + chunk])
    return n


def _id_key(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, seq = text.split("-")
    return int(ms), int(seq)


@dataclass
class Checkpointed:
    """What the checkpoint holds: the detector, the last counted entry, refusals, and undelivered alerts."""

    detector: EbDetector
    last_id: tuple[int, int] = (0, 0)
    detector_format: int = EbDetector.STATE_FORMAT
    refused: dict[str, int] = field(default_factory=dict)
    outbox: list[Alert] = field(default_factory=list)
    delivered: set[str] = field(default_factory=set)


class AlertSink:
    """Alerts to a JSONL file (deduplicated by id, so a re-delivery is a no-op) and optionally a webhook."""

    def __init__(self, path: Path, webhook: str | None = None) -> None:
        self.path = Path(path)
        self.webhook = webhook

    def deliver(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        have = set()
        if self.path.exists():
            have = {json.loads(line)["id"] for line in self.path.read_text().splitlines() if line.strip()}
        fresh = [a for a in alerts if a.id not in have]
        if fresh:
            with self.path.open("a") as handle:
                for a in fresh:
                    handle.write(a.model_dump_json() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        if self.webhook:
            body = json.dumps({"alerts": [a.model_dump() for a in alerts]}).encode()
            request = urllib.request.Request(self.webhook, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - operator-configured URL
                response.read()


class StreamConsumer:
    """The detector as a member of a consumer group, checkpointing to ``checkpoint_dir``."""

    def __init__(self, client, checkpoint_dir: Path, sink: AlertSink, settings: EbSettings | None = None,  # type: ignore[no-untyped-def]
                 stream: str = STREAM, group: str = GROUP, consumer: str = "detector-1", batch: int = 500) -> None:
        self.client = client
        self.dir = Path(checkpoint_dir)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.sink = sink
        self.stream, self.group, self.consumer, self.batch = stream, group, consumer, batch
        self.state = self._load() or Checkpointed(EbDetector(settings))
        try:
            client.xgroup_create(stream, group, id="0", mkstream=True)
        except Exception as exc:  # noqa: BLE001 - BUSYGROUP: it exists already (a restart)
            if "BUSYGROUP" not in str(exc):
                raise

    # ---- checkpoint ------------------------------------------------------------------------------
    @property
    def _file(self) -> Path:
        return self.dir / "checkpoint.pkl"

    def _load(self) -> Checkpointed | None:
        if not self._file.exists():
            return None
        with self._file.open("rb") as handle:
            state = pickle.load(handle)  # noqa: S301 - our own private checkpoint (see module docstring)
        if not isinstance(state, Checkpointed):
            raise StreamlabError(f"{self._file}: not a QoE stream checkpoint")
        found = getattr(state, "detector_format", 1)
        if found != EbDetector.STATE_FORMAT:
            raise StreamlabError(
                f"{self._file}: written by a detector with state format {found}, this one reads {EbDetector.STATE_FORMAT}; "
                "replay the stream into a new checkpoint directory (the old one is left as it is)")
        return state

    def _save(self) -> None:
        tmp = self._file.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            pickle.dump(self.state, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._file)

    # ---- the loop --------------------------------------------------------------------------------
    def step(self, block_ms: int = 200) -> int:
        """One batch (pending first, then new); returns how many entries it was handed."""
        self._deliver()  # alerts a previous life checkpointed but did not deliver
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=self.batch)
        entries = reply[0][1] if reply else []
        if not entries:
            reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=block_ms)
            entries = reply[0][1] if reply else []
        if not entries:
            return 0
        st = self.state
        for entry_id, fields in entries:
            key = _id_key(entry_id)
            if key <= st.last_id:
                continue  # counted before the last checkpoint; only its XACK was lost
            event, reason = parse_record(fields.get(b"e", b""))
            if event is None:
                head = (reason or "invalid").split(":", 1)[0]
                st.refused[head] = st.refused.get(head, 0) + 1
            else:
                refusal, opened = st.detector.ingest(event)
                if refusal is not None:
                    head = refusal.split(":", 1)[0]
                    st.refused[head] = st.refused.get(head, 0) + 1
                st.outbox += [a for a in opened if a.id not in st.delivered]
            st.last_id = key
        self._save()
        self._deliver()
        self.client.xack(self.stream, self.group, *[e[0] for e in entries])
        return len(entries)

    def _deliver(self) -> None:
        if not self.state.outbox:
            return
        self.sink.deliver(self.state.outbox)
        self.state.delivered |= {a.id for a in self.state.outbox}
        self.state.outbox = []
        self._save()

    def run(self, idle_exit_s: float = 2.0, max_s: float = 600.0) -> None:
        """Consume until the stream has been idle ``idle_exit_s`` (or ``max_s`` passed)."""
        start = idle = time.monotonic()
        while time.monotonic() - start < max_s:
            if self.step():
                idle = time.monotonic()
            elif time.monotonic() - idle > idle_exit_s:
                return

    def counted(self) -> int:
        """Events this detector has taken a decision on: accepted, refused by the detector or the schema."""
        d = self.state.detector.counters
        return d["accepted"] + sum(self.state.refused.values())


def main() -> None:
    parser = argparse.ArgumentParser(description="Consume QoE beacons from a Redis Stream (issue 19)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--sink", type=Path, required=True)
    parser.add_argument("--webhook", default=None)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--idle-exit-s", type=float, default=2.0)
    args = parser.parse_args()
    import redis

    client = redis.Redis(host="127.0.0.1", port=args.port)
    consumer = StreamConsumer(client, args.checkpoint, AlertSink(args.sink, args.webhook), load_settings().eb,
                              batch=args.batch)
    consumer.run(args.idle_exit_s)
    st = consumer.state
    (args.checkpoint / "done.json").write_text(json.dumps({"counted": consumer.counted(), "refused": st.refused,
                                                            "stats": st.detector.stats()}))


if __name__ == "__main__":
    main()
