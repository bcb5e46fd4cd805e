"""Native HTTP load with ``wrk``: pre-signed unique bodies, cycled by a Lua script.

The Python side only prepares requests; wrk (C, its own threads) sends them, so the
load generator is not what is measured. Each wrk thread takes every n-th request of
the prepared list and never sends one twice while the list lasts, so a dedupe path
is not what is measured either (the caller prepares more requests than a run can
send; wrk reports how many it sent).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

LUA = r"""
local requests = {}
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local nthreads = tonumber(args[2])
  local f = assert(io.open(path, "rb"))
  local i = 0
  while true do
    local header = f:read("*l")
    if header == nil then break end
    local method, url, nh, blen = header:match("^(%S+) (%S+) (%d+) (%d+)$")
    local headers = {}
    for _ = 1, tonumber(nh) do
      local line = f:read("*l")
      local k, v = line:match("^([^:]+): (.*)$")
      headers[k] = v
    end
    local body = f:read(tonumber(blen))
    f:read("*l")
    if i % nthreads == id then
      table.insert(requests, wrk.format(method, url, headers, body))
    end
    i = i + 1
  end
  f:close()
  pos = 0
end

function request()
  pos = pos + 1
  if pos > #requests then pos = 1 end
  return requests[pos]
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def find_wrk() -> str:
    """The wrk binary; installed from the distribution's packages when missing (said so)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with apt-get (Debian package 'wrk')", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is required (apt-get install wrk)")
    return found


def write_requests(path: Path, requests: list[tuple[str, bytes, dict[str, str]]]) -> None:
    """One file the Lua script reads: ``METHOD URL NHEADERS BODYLEN``, headers, body."""
    with path.open("wb") as out:
        for url, body, headers in requests:
            out.write(f"POST {url} {len(headers)} {len(body)}\n".encode())
            for key, value in headers.items():
                out.write(f"{key}: {value}\n".encode())
            out.write(body + b"\n")


def run(
    port: int,
    requests: list[tuple[str, bytes, dict[str, str]]],
    *,
    seconds: float,
    connections: int = 16,
    threads: int = 2,
) -> dict[str, Any]:
    """Drive the server for ``seconds``; return requests/s, p50/p99 in ms and error counts."""
    wrk = find_wrk()
    work = Path(tempfile.mkdtemp(prefix="storeflow-wrk-"))
    try:
        script = work / "cycle.lua"
        script.write_text(LUA)
        data = work / "requests.txt"
        write_requests(data, requests)
        proc = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}/",
                "--",
                str(data),
                str(threads),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("WRKJSON "))
    stats = json.loads(line.removeprefix("WRKJSON "))
    sent = stats["requests"]
    if sent > len(requests):
        print(f"  note: wrk sent {sent} requests but only {len(requests)} were unique")
    return {
        "rps": sent / (stats["duration_us"] / 1e6),
        "requests": sent,
        "p50_ms": stats["p50_us"] / 1000,
        "p99_ms": stats["p99_us"] / 1000,
        "errors": stats["status_errors"] + stats["socket_errors"],
    }
