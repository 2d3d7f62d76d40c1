"""The Varnish edge: a VCL generated from ``configs/delivery.yaml``, and varnishd as a child process.

What the VCL reproduces of the Python edge (:mod:`streamlab.streaming.delivery.cache_tier`), rule
by rule, so that the two engines can be measured side by side on the same traffic:

* **TTLs come from the upstream's** ``Cache-Control`` (the origin states one per object type:
  short for manifests and live playlists, longer for answers to blocking requests, immutable
  for parts and segments). Responses without ``max-age`` get ``edge.default_ttl_s`` (``-p
  default_ttl``); no grace and no keep: a stale object is never served.
* Stored statuses are 200, 404 and 410; ``no-store``/``private``/``Set-Cookie``/``Vary: *``
  answers and objects above ``max_object_fraction`` of the capacity are *hit-for-miss* for
  ``hit_for_pass_s`` (each request goes upstream, none waits on another).
* **Coalescing**: the cache key is the request target alone (path and query, no ``Host``), so
  blocked LL-HLS playlist requests with the same ``_HLS_msn``/``_HLS_part`` are one object and
  Varnish's waiting list holds every viewer behind the one fetch. Errors the live origin marks
  ``no-cache`` (a 503 after the block bound) are kept ``varnish.shared_error_ttl_s`` instead of
  never: Varnish's waiting list shares only an object that is in cache, and without it 50 blocked
  viewers would wait one after another, 6 s each.
* **Cut-through**: ``beresp.do_stream``: a part or segment still being written reaches every
  waiting viewer chunk by chunk (chunked transfer), as the Python fill does.
* ``Authorization`` requests are cached only when the answer says ``public``, ``s-maxage`` or
  ``must-revalidate`` (RFC 9111 §3.5); cookies never go upstream on a cached fetch; other methods
  (CORS preflights) pass through so the origin's CORS answer reaches the client unchanged (the
  origin states CORS on every response, so cached copies carry it too).
* The same response headers: ``X-Cache`` (``HIT``, ``MISS``, ``PASS``; waiting-list requests
  are ``HIT``, as Varnish counts them), ``X-Cache-Tier: edge``, ``X-Cache-Chain`` extended from
  the shield's, ``Age``; Varnish's own ``Via``/``X-Varnish`` are removed.
* **Failover**: a fetch the shield refuses or drops before answering (it is restarting) is
  retried once against the origin (``vcl_backend_error`` → ``retry``), as the Python edge's
  ``fallback_url`` does: viewers see neither an error nor a stall while a shield is down.
* Paths with dot segments, NUL or backslashes get 400 before anything is forwarded.
* **Shield selection**: rendezvous hashing of ``live/<channel>``/``media/<title>`` over the
  shields, unrolled in VCL with ``directors.shard().key()`` as the weight, identical to
  :func:`.shields.pick_shield`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from streamlab.core.errors import StreamlabError, UsageError
from streamlab.streaming.delivery.engines.shields import SHARD_PATTERN, shield_names
from streamlab.streaming.delivery.settings import DeliverySettings


class EngineError(StreamlabError):
    """The edge engine is unknown, not installed, or could not start."""


EDGE_ENGINES = ("python", "varnish")
FALLBACK_BACKEND = "origin"
"""The VCL backend a fetch goes to when the shield is down (with ``fallback_url``)."""


def check_engine(name: str) -> str:
    """``name`` when it is a known edge engine; otherwise a usage error listing them."""
    if name not in EDGE_ENGINES:
        raise UsageError(f"unknown edge engine {name!r}: use one of {', '.join(EDGE_ENGINES)}")
    return name


def _duration(seconds: float) -> str:
    return f"{seconds:.3f}s"


def _vcl_string(value: str) -> str:
    """A VCL long string ``{"..."}``: no escapes needed, only ``"}`` is forbidden inside."""
    if '"}' in value:
        raise EngineError(f"cannot put {value!r} into a VCL string")
    return '{"' + value + '"}'


def generate_vcl(settings: DeliverySettings, shield_urls: list[str], tier: str = "edge",
                 fallback_url: str | None = None) -> str:
    """The edge's VCL for ``shield_urls`` (``http://host:port``), from the Python edge's settings;
    with ``fallback_url`` (the origin) a fetch a shield refuses or drops unanswered is retried there."""
    if not shield_urls:
        raise EngineError("the Varnish edge needs at least one shield URL")
    names = shield_names(len(shield_urls))
    tier_settings = settings.edge
    upstream = settings.upstream
    max_object_bytes = int(tier_settings.capacity_bytes * tier_settings.max_object_fraction)
    hit_for_pass = _duration(max(tier_settings.hit_for_pass_s, 0.001))
    backends = []
    targets = list(zip(names, shield_urls, strict=True)) + ([(FALLBACK_BACKEND, fallback_url)] if fallback_url else [])
    for name, url in targets:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise EngineError(f"{'origin' if name == FALLBACK_BACKEND else 'shield'} URL {url!r} must be http://host:port")
        backends.append(
            f"backend {name} {{\n"
            f'    .host = "{parts.hostname}";\n    .port = "{parts.port}";\n'
            f"    .connect_timeout = 2s;\n"
            f"    .first_byte_timeout = {_duration(upstream.timeout_s)};\n"
            f"    .between_bytes_timeout = {_duration(upstream.timeout_s)};\n"
            f"    .max_connections = {upstream.max_connections};\n}}\n"
        )
    pick = [f'    set req.backend_hint = {names[0]};',
            f'    set req.http.x-sl-wbest = shard.key(req.http.x-sl-key + "|{names[0]}");']
    for name in names[1:]:
        pick += [
            f'    set req.http.x-sl-w = shard.key(req.http.x-sl-key + "|{name}");',
            "    if (std.integer(req.http.x-sl-w, 0) > std.integer(req.http.x-sl-wbest, 0)) {",
            f"        set req.backend_hint = {name};",
            "        set req.http.x-sl-wbest = req.http.x-sl-w;",
            "    }",
        ]
    pick_block = "\n".join(pick)
    failover_fetch = failover_retry = ""
    if fallback_url:  # the shield refused or dropped the fetch unanswered: once more, to the origin
        failover_fetch = f"""
    if (bereq.retries > 0) {{
        set bereq.backend = {FALLBACK_BACKEND};
    }}"""
        failover_retry = """
    if (bereq.retries == 0 && (bereq.method == "GET" || bereq.method == "HEAD" || bereq.method == "OPTIONS")) {
        return (retry);
    }"""
    shard_regex = SHARD_PATTERN.replace("\\", "\\\\")
    return f"""vcl 4.1;
# Generated by streamlab.streaming.delivery.engines.varnish from configs/delivery.yaml: do not edit.
import directors;
import std;

{"".join(backends)}
sub vcl_init {{
    new shard = directors.shard();  # only its key(): SHA-256 weights, shared with the Python edge
}}

sub vcl_recv {{
    if (req.url ~ "(?i)(^|/)(\\.|%2e){{1,2}}(/|\\?|$)" || req.url ~ "%00" || req.url ~ "(?i)(\\\\|%5c)") {{
        return (synth(400, "bad request: path has dot segments, NUL or backslash"));
    }}
    set req.http.x-sl-key = regsub(req.url, "{shard_regex}", "\\1/\\2");
{pick_block}
    unset req.http.x-sl-key;
    unset req.http.x-sl-w;
    unset req.http.x-sl-wbest;
    if (req.method != "GET" && req.method != "HEAD") {{
        return (pass);
    }}
    unset req.http.cookie;
    return (hash);
}}

sub vcl_hash {{
    hash_data(req.url);
    return (lookup);
}}

sub vcl_hit {{
    if (req.http.authorization && obj.http.cache-control !~ "(?i)(public|s-maxage|must-revalidate)") {{
        return (pass);
    }}
}}

sub vcl_backend_fetch {{{failover_fetch}
    set bereq.http.via = "1.1 streamlab-{tier}";
    unset bereq.http.x-varnish;
}}

sub vcl_backend_response {{
    set beresp.do_stream = true;
    if (!beresp.http.accept-ranges) {{
        set beresp.http.x-sl-no-ranges = "1";
    }}
    set beresp.grace = 0s;
    set beresp.keep = 0s;
    if (bereq.uncacheable) {{
        return (deliver);
    }}
    if (beresp.status >= 400 && beresp.http.cache-control ~ "(?i)no-cache"
            && beresp.http.cache-control !~ "(?i)(no-store|private)") {{
        set beresp.ttl = {_duration(settings.varnish.shared_error_ttl_s)};
        return (deliver);
    }}
    if (beresp.status != 200 && beresp.status != 404 && beresp.status != 410) {{
        set beresp.uncacheable = true;
        set beresp.ttl = 0s;
        return (deliver);
    }}
    if (beresp.http.cache-control ~ "(?i)(no-store|private|no-cache)" || beresp.http.set-cookie || beresp.http.vary == "*"
            || std.integer(beresp.http.content-length, 0) > {max_object_bytes}
            || (bereq.http.authorization && beresp.http.cache-control !~ "(?i)(public|s-maxage|must-revalidate)")) {{
        set beresp.uncacheable = true;
        set beresp.ttl = {hit_for_pass};
        return (deliver);
    }}
    if (beresp.ttl <= 0s) {{
        set beresp.uncacheable = true;
        set beresp.ttl = 0s;
    }}
    return (deliver);
}}

sub vcl_backend_error {{{failover_retry}
    set beresp.status = 502;
    set beresp.http.cache-control = "no-store";
    set beresp.http.content-type = "text/plain; charset=utf-8";
    set beresp.http.x-cache-tier = "{tier}";
    set beresp.ttl = 0s;
    set beresp.body = "upstream failed: " + beresp.backend.name + " unreachable or timed out" + {_vcl_string(chr(10))};
    return (deliver);
}}

sub vcl_deliver {{
    if (obj.uncacheable) {{
        set resp.http.x-cache = "PASS";
    }} elsif (obj.hits > 0) {{
        set resp.http.x-cache = "HIT";
    }} else {{
        set resp.http.x-cache = "MISS";
    }}
    set resp.http.x-cache-tier = "{tier}";
    if (resp.http.x-cache-chain) {{
        set resp.http.x-cache-chain = resp.http.x-cache-chain + ", {tier}=" + resp.http.x-cache;
    }} else {{
        set resp.http.x-cache-chain = "{tier}=" + resp.http.x-cache;
    }}
    if (resp.http.x-sl-no-ranges) {{
        unset resp.http.accept-ranges;  # Varnish adds it to everything; the origin says where ranges apply
        unset resp.http.x-sl-no-ranges;
    }}
    unset resp.http.via;
    unset resp.http.x-varnish;
    return (deliver);
}}

sub vcl_synth {{
    set resp.http.cache-control = "no-store";
    set resp.http.content-type = "text/plain; charset=utf-8";
    set resp.http.x-cache-tier = "{tier}";
    set resp.body = resp.reason + {_vcl_string(chr(10))};
    return (deliver);
}}
"""


def varnish_params(settings: DeliverySettings) -> list[str]:
    """``-p`` parameters: the Python edge's connection limits and TTL defaults in Varnish's terms."""
    limits = settings.connections
    return [
        "-p", f"default_ttl={settings.edge.default_ttl_s}",
        "-p", "default_grace=0",
        "-p", "default_keep=0",
        "-p", f"http_req_size={limits.max_header_bytes}",
        "-p", f"http_req_hdr_len={min(limits.max_header_bytes, 65536)}",
        "-p", f"timeout_idle={limits.idle_timeout_s}",
        "-p", f"thread_pool_min={settings.varnish.thread_pool_min}",
        "-p", f"thread_pool_max={settings.varnish.thread_pool_max}",
        "-p", "feature=+http2",
    ]


def _port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise EngineError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another port") from exc


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class VarnishEdge:
    """One varnishd (manager + child) serving ``host:port``; :meth:`stop` ends it by PID."""

    url: str
    pid: int
    root: Path
    """The run's temporary folder: the VCL, varnishd's log and its instance folder ``n``."""
    process: subprocess.Popen = field(repr=False)
    varnishstat: str = "/usr/bin/varnishstat"

    @property
    def instance(self) -> Path:
        return self.root / "n"

    @property
    def vcl_path(self) -> Path:
        return self.root / "edge.vcl"

    def counters(self) -> dict[str, int]:
        """``MAIN.*`` counters (``cache_hit``, ``cache_miss``, ``backend_req``, ``busy_sleep``...)."""
        return read_counters(self.instance, self.varnishstat)

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM to the manager (it stops its child), SIGKILL after ``timeout_s``; the folder goes too."""
        if self.process.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)  # the manager stops its child, then exits
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout_s)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def read_counters(instance: str | Path, varnishstat: str = "/usr/bin/varnishstat") -> dict[str, int]:
    """The ``MAIN.*`` counters of the varnishd whose instance folder (``-n``) is ``instance``."""
    try:
        out = subprocess.run([varnishstat, "-n", str(instance), "-1", "-j"], capture_output=True,
                             text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineError(f"varnishstat failed for {instance}: {exc}") from exc
    data = json.loads(out)
    counters = data.get("counters", data)
    return {name.removeprefix("MAIN."): int(entry["value"]) for name, entry in counters.items()
            if name.startswith("MAIN.") and isinstance(entry, dict) and "value" in entry}


def start_varnish(
    settings: DeliverySettings, shield_urls: list[str], host: str = "127.0.0.1", port: int = 0,
    tier: str = "edge", fallback_url: str | None = None,
) -> VarnishEdge:
    """Generate the VCL, start ``varnishd -F`` on ``host:port`` (0: a free one) and wait until it answers."""
    binary = settings.varnish.varnishd
    if shutil.which(binary) is None:
        raise EngineError(f"varnishd not found at {binary!r}: install Debian's varnish package "
                          "(apt-get install varnish) or set varnish.varnishd=/path/to/varnishd")
    port = port or free_port(host)
    _port_free(host, port)
    workdir = Path(tempfile.mkdtemp(prefix="streamlab-varnish-"))
    vcl_path = workdir / "edge.vcl"
    vcl_path.write_text(generate_vcl(settings, shield_urls, tier, fallback_url))
    log_path = workdir / "varnishd.log"
    command = [
        binary, "-F", "-j", "none", "-a", f"{host}:{port}", "-f", str(vcl_path), "-n", str(workdir / "n"),
        "-T", "none", "-s", f"malloc,{settings.edge.capacity_bytes}", *varnish_params(settings),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    edge = VarnishEdge(f"http://{host}:{port}", process.pid, workdir, process, settings.varnish.varnishstat)
    deadline = time.monotonic() + settings.varnish.startup_timeout_s
    while True:
        if process.poll() is not None:
            reason = _last_error(log_path)
            edge.stop()
            raise EngineError(f"varnishd exited (code {process.returncode}) before serving {host}:{port}: {reason}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            edge.stop()
            raise EngineError(f"varnishd did not listen on {host}:{port} within {settings.varnish.startup_timeout_s} s")
        time.sleep(0.05)
    return edge


def _last_error(log_path: Path) -> str:
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "rror" in line or "Could not" in line or "failed" in line]
    return " / ".join((errors or lines)[-3:]) or "no output"
