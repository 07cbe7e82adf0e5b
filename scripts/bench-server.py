#!/usr/bin/env python3
"""Server benchmark helper for scripts/bench-server (see BENCHMARKS.md, section "Server").

Measures a real `gantry serve` (the binary given, SQLite, the host executor) on loopback:

  latency    PUSHES pushes, one after the other, of a commit whose one-step workflow writes
             `date +%s.%N` to a file as its first command; latency = that time - the time `git push`
             returned (and, for context, - the time it was started). p50/p99.
  memory     VmRSS and VmHWM of the server process (from /proc/PID/status) after start, and after
             the pushes, idle for IDLE seconds.
  pages      a second server whose store holds RUNS finished runs (written by the store's own API:
             `gantry-store`'s `fill` example), 2-3 jobs each with a short log; GETS timed GETs each
             of `/`, `/OWNER/REPO` and `/OWNER/REPO/runs/N` (N random), logged in with a session
             cookie over one keep-alive connection. p50/p99.
  fanout     VIEWERS concurrent SSE viewers of `/OWNER/REPO/runs/N/jobs/ID/live` of a running job
             that prints paced lines, then a burst, then a final line with its timestamp: whether
             every viewer got every line, the spread between the first and the last viewer receiving
             the final line, and the server's CPU time and RSS meanwhile.

Every number printed is measured. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO = "bench/web"

# ----------------------------------------------------------------------------- the server


class Server:
    """`gantry serve` on a port the system picks; stdout drained, stderr to a file."""

    def __init__(self, gantry: str, data: Path, log: Path):
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(
            [gantry, "serve", "--listen", "127.0.0.1:0", "--data", str(data), "--grace", "1"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        self.password = None
        while True:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise SystemExit(f"bench-server: gantry serve ended before listening (see {log})")
            m = re.match(r"first start: log in as admin with password (\S+?);", line)
            if m:
                self.password = m.group(1)
            if line.startswith("listening on "):
                self.url = line.split()[-1]
                break
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        u = urllib.parse.urlparse(self.url)
        self.host, self.port = u.hostname, u.port
        self.session = None
        self.token = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def request(self, method, path, headers=None, body=b"", conn=None):
        """One request; on a new connection unless `conn` is given. (status, headers, body)."""
        own = conn is None
        if own:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        if own:
            conn.close()
        return resp.status, resp.getheaders(), data

    def cookie_header(self) -> dict:
        return {"Cookie": f"gantry_session={self.session}"}

    def login(self, password: str) -> None:
        status, headers, _ = self.request("GET", "/login")
        csrf = cookie(headers, "gantry_login_csrf")
        form = urllib.parse.urlencode({"username": "admin", "password": password, "csrf": csrf, "next": "/"})
        status, headers, body = self.request(
            "POST",
            "/login",
            {"Cookie": f"gantry_login_csrf={csrf}", "Content-Type": "application/x-www-form-urlencoded"},
            form.encode(),
        )
        if status != 303:
            raise SystemExit(f"bench-server: login failed ({status}): {body[:300]!r}")
        self.session = cookie(headers, "gantry_session")

    def make_token(self) -> None:
        _, _, page = self.request("GET", "/account", self.cookie_header())
        csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
        status, _, body = self.request(
            "POST",
            "/api/v1/tokens",
            {**self.cookie_header(), "X-CSRF-Token": csrf, "Content-Type": "application/json"},
            b'{"name": "bench"}',
        )
        if status != 201:
            raise SystemExit(f"bench-server: cannot make a token ({status}): {body[:300]!r}")
        self.token = json.loads(body)["token"]

    def api(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        data = json.dumps(body).encode() if body is not None else b""
        status, _, answer = self.request(method, path, headers, data)
        return status, (json.loads(answer) if answer.startswith((b"{", b"[")) else answer)

    def register(self, bare: Path) -> None:
        status, body = self.api("POST", "/api/v1/repositories", {"name": REPO, "path": str(bare)})
        if status != 201:
            raise SystemExit(f"bench-server: registering the repository failed ({status}): {body}")

    def run(self, number: int):
        status, body = self.api("GET", f"/api/v1/repositories/{REPO}/runs/{number}")
        return body if status == 200 else None

    def wait_run(self, number: int, timeout: float = 120, poll: float = 0.05) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(number)
            if run and run["status"] == "completed":
                return run
            time.sleep(poll)
        raise SystemExit(f"bench-server: run #{number} did not end within {timeout} s")


def cookie(headers, name: str) -> str:
    for key, value in headers:
        if key.lower() == "set-cookie":
            pair = value.split(";")[0]
            k, _, v = pair.partition("=")
            if k == name:
                return v
    raise SystemExit(f"bench-server: no {name} cookie in the answer")


def proc_status(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads", "RssAnon", "RssFile"):
                    out[key] = int(value.split()[0])
    except FileNotFoundError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime+stime of the process itself (its threads; not its children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def memory(pid: int) -> dict:
    s = proc_status(pid)
    kids = [(k, proc_status(k)) for k in children(pid)]
    return {
        "rss_kb": s.get("VmRSS"),
        "hwm_kb": s.get("VmHWM"),
        "anon_kb": s.get("RssAnon"),
        "file_kb": s.get("RssFile"),
        "threads": s.get("Threads"),
        "children_rss_kb": sum(k.get("VmRSS", 0) for _, k in kids),
        "children": len(kids),
    }


# ----------------------------------------------------------------------------- git

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GANTRY_PUSHER": "admin",
}


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"bench-server: git {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def make_repos(root: Path) -> tuple[Path, Path]:
    bare, work = root / "web.git", root / "work"
    work.mkdir(parents=True)
    git(root, "init", "--quiet", "--bare", "-b", "main", str(bare))
    git(work, "init", "--quiet", "-b", "main")
    git(work, "remote", "add", "origin", str(bare))
    return bare, work


def commit(work: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", message)
    return git(work, "rev-parse", "HEAD").strip()


STAMP_WORKFLOW = """\
name: Stamp
on:
  push:
    branches: [main]
jobs:
  stamp:
    runs-on: ubuntu-latest
    steps:
      - run: date +%s.%N > "STAMPS/$GITHUB_SHA"
"""

TALK_WORKFLOW = """\
name: Talk
on: workflow_dispatch
jobs:
  talk:
    runs-on: ubuntu-latest
    steps:
      - run: |
          while [ ! -e GO ]; do sleep 0.05; done
          for i in $(seq 1 PACED); do echo "paced $i."; sleep 0.01; done
          seq -f 'burst %g.' 1 BURST
          echo "final line $(date +%s.%N)"
"""

# ----------------------------------------------------------------------------- statistics


def pct(xs: list[float], p: float) -> float:
    """Percentile by linear interpolation between closest ranks (p in 0..100)."""
    s = sorted(xs)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def dist(xs: list[float]) -> dict:
    return {
        "n": len(xs),
        "p50": pct(xs, 50),
        "p99": pct(xs, 99),
        "min": min(xs),
        "max": max(xs),
        "mean": statistics.fmean(xs),
    }


# ----------------------------------------------------------------------------- cases


def when(stamp: str) -> float:
    """Seconds since the epoch of an API timestamp (RFC 3339, UTC, millisecond precision)."""
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def case_latency(server: Server, work: Path, stamps: Path, pushes: int) -> dict:
    """Sequential pushes; each waits for its run to end before the next."""
    samples, from_start, push_secs = [], [], []
    phases: dict[str, list[float]] = {}
    first_number = None
    for i in range(pushes + 1):  # push 0 is a warm-up, not counted
        sha = commit(work, {"COUNTER": f"{i}\n"}, f"Push {i}")
        started = time.time()
        git(work, "push", "--quiet", "origin", "main")
        returned = time.time()
        # The run's number: the newest run of the repository.
        status, runs = server.api("GET", f"/api/v1/repositories/{REPO}/runs?limit=1")
        number = runs["runs"][0]["number"] if isinstance(runs, dict) else runs[0]["number"]
        run = server.wait_run(number)
        if run["conclusion"] != "success":
            raise SystemExit(f"bench-server: run #{number} ended {run['conclusion']}: {run}")
        stamp = float((stamps / sha).read_text())
        if i == 0:
            first_number = number
            continue
        job = run["jobs"][0]
        marks = {
            "push started": started,
            "run created": when(run["created_at"]),
            "run started": when(run["started_at"]),
            "job started": when(job["started_at"]),
            "step's date": stamp,
            "run finished": when(run["finished_at"]),
        }
        names = list(marks)
        for a, b in zip(names, names[1:]):
            phases.setdefault(f"{a} → {b}", []).append((marks[b] - marks[a]) * 1000)
        samples.append((stamp - returned) * 1000)
        from_start.append((stamp - started) * 1000)
        push_secs.append((returned - started) * 1000)
    return {
        "pushes": pushes,
        "first_run": first_number,
        "after_return_ms": dist(samples),
        "after_start_ms": dist(from_start),
        "push_ms": dist(push_secs),
        "phases_ms": {k: dist(v) for k, v in phases.items()},
        "samples_ms": samples,
    }


def timed_gets(server: Server, paths: list[str], warmup: int) -> dict:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    headers = server.cookie_header()
    for path in paths[:warmup]:
        server.request("GET", path, headers, conn=conn)
    times, sizes = [], []
    for path in paths:
        t0 = time.perf_counter()
        status, _, body = server.request("GET", path, headers, conn=conn)
        times.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise SystemExit(f"bench-server: GET {path} answered {status}: {body[:300]!r}")
        sizes.append(len(body))
    conn.close()
    return {**dist(times), "bytes": statistics.median(sizes)}


def case_pages(server: Server, runs: int, gets: int, rng: random.Random) -> dict:
    owner, name = REPO.split("/")
    pages = {
        "/": ["/"] * gets,
        f"/{REPO}": [f"/{REPO}"] * gets,
        f"/{REPO}/runs/N": [f"/{REPO}/runs/{rng.randint(1, runs)}" for _ in range(gets)],
    }
    # Interleave the three pages so that drift in machine load hits all alike.
    results = {label: [] for label in pages}
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    headers = server.cookie_header()
    for label, paths in pages.items():
        for path in paths[:10]:
            server.request("GET", path, headers, conn=conn)
    sizes = {label: [] for label in pages}
    for i in range(gets):
        for label, paths in pages.items():
            t0 = time.perf_counter()
            status, _, body = server.request("GET", paths[i], headers, conn=conn)
            results[label].append((time.perf_counter() - t0) * 1000)
            if status != 200:
                raise SystemExit(f"bench-server: GET {paths[i]} answered {status}: {body[:300]!r}")
            sizes[label].append(len(body))
    conn.close()
    # The pages show what they should: the dashboard and the list show runs, a run its jobs' logs.
    _, _, dash = server.request("GET", "/", headers)
    _, _, run_page = server.request("GET", f"/{REPO}/runs/{runs}", headers)
    if f"run {runs}".encode() not in run_page and b"line 0 of run" not in run_page:
        raise SystemExit("bench-server: the run page does not show the run's log")
    return {
        label: {**dist(ts), "bytes": int(statistics.median(sizes[label]))} for label, ts in results.items()
    } | {"dashboard_bytes": len(dash)}


class Viewer:
    """One SSE connection: the request sent, the answer dechunked as it arrives."""

    def __init__(self, host, port, path, cookie_value):
        self.sock = socket.create_connection((host, port))
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                f"Cookie: gantry_session={cookie_value}\r\n\r\n"
            ).encode()
        )
        self.sock.setblocking(False)
        self.raw = bytearray()
        self.head = None
        self.body = bytearray()
        self.chunk_left = 0
        self.final_at = None
        self.done = False
        self.closed = False

    def feed(self, data: bytes, now: float) -> None:
        self.raw += data
        if self.head is None:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head = bytes(self.raw[:end]).decode()
            del self.raw[: end + 4]
        # Chunked transfer encoding: size line, data, CRLF.
        while True:
            if self.chunk_left == 0:
                end = self.raw.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(self.raw[:end]).split(b";")[0] or b"0", 16)
                if size == 0:
                    self.closed = True
                    return
                del self.raw[: end + 2]
                self.chunk_left = size + 2  # with its CRLF
            take = min(self.chunk_left, len(self.raw))
            if take == 0:
                return
            piece = self.raw[:take]
            del self.raw[:take]
            self.chunk_left -= take
            if self.chunk_left < 2:  # part of the CRLF was taken
                piece = piece[: len(piece) - (2 - self.chunk_left)]
            self.body += piece
            if self.final_at is None and b"final line" in self.body[-len(piece) - 64 :]:
                self.final_at = now
            if not self.done and b"event: done" in self.body[-len(piece) - 32 :]:
                self.done = True

    @property
    def status(self) -> int | None:
        return int(self.head.split()[1]) if self.head else None


def case_fanout(server: Server, work: Path, go: Path, viewers: int, paced: int, burst: int) -> dict:
    status, answer = server.api(
        "POST", f"/api/v1/repositories/{REPO}/dispatches", {"workflow": "talk.yml", "ref": "main"}
    )
    if status != 201:
        raise SystemExit(f"bench-server: dispatch failed ({status}): {answer}")
    if not answer.get("runs"):
        raise SystemExit(f"bench-server: the dispatch queued no run: {answer}")
    number = answer["runs"][0]["number"]
    deadline = time.monotonic() + 60
    job_id = None
    while time.monotonic() < deadline:
        run = server.run(number)
        jobs = (run or {}).get("jobs") or []
        if jobs and jobs[0].get("state") == "running":
            job_id = jobs[0]["id"]
            break
        time.sleep(0.05)
    if job_id is None:
        raise SystemExit(f"bench-server: the talk job of run #{number} never started")
    path = f"/{REPO}/runs/{number}/jobs/{job_id}/live"
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(viewers):
        v = Viewer(server.host, server.port, path, server.session)
        sel.register(v.sock, selectors.EVENT_READ, v)
        conns.append(v)

    def pump(until, timeout):
        end = time.monotonic() + timeout
        while not until() and time.monotonic() < end:
            for key, _ in sel.select(timeout=0.5):
                v = key.data
                try:
                    data = v.sock.recv(65536)
                except BlockingIOError:
                    continue
                now = time.time()
                if not data:
                    v.closed = True
                    sel.unregister(v.sock)
                    continue
                v.feed(data, now)
                if v.done or v.closed:
                    try:
                        sel.unregister(v.sock)
                    except KeyError:
                        pass

    pump(lambda: all(v.head is not None for v in conns), 30)
    bad = [v.status for v in conns if v.status != 200]
    if bad:
        raise SystemExit(f"bench-server: {len(bad)} viewers were refused: {bad[:5]}")
    mem_before = memory(server.pid)
    cpu0, wall0 = cpu_seconds(server.pid), time.time()
    rss_peak = [mem_before["rss_kb"] or 0]
    stop = threading.Event()

    def poll_rss():
        while not stop.is_set():
            rss_peak[0] = max(rss_peak[0], proc_status(server.pid).get("VmRSS", 0))
            time.sleep(0.05)

    poller = threading.Thread(target=poll_rss, daemon=True)
    poller.start()
    go.touch()
    pump(lambda: all(v.done or v.closed for v in conns), 180)
    wall1, cpu1 = time.time(), cpu_seconds(server.pid)
    stop.set()
    poller.join()
    mem_after = memory(server.pid)
    run = server.wait_run(number)
    for v in conns:
        v.sock.close()

    # Did every viewer get every line, in order?
    paced_re, burst_re = re.compile(rb"paced (\d+)\."), re.compile(rb"burst (\d+)\.")
    complete, reloads = 0, 0
    for v in conns:
        body = bytes(v.body)
        if b"event: reload" in body:
            reloads += 1
        p = [int(x) for x in paced_re.findall(body)]
        b = [int(x) for x in burst_re.findall(body)]
        if p == list(range(1, paced + 1)) and b == list(range(1, burst + 1)) and v.final_at and v.done:
            complete += 1
    finals = [v.final_at for v in conns if v.final_at]
    printed = None
    m = re.search(rb"final line (\d+\.\d+)", bytes(conns[0].body))
    if m:
        printed = float(m.group(1))
    return {
        "viewers": viewers,
        "lines": paced + burst + 1,
        "run": number,
        "conclusion": run["conclusion"],
        "complete": complete,
        "reloads": reloads,
        "final_spread_ms": (max(finals) - min(finals)) * 1000 if finals else None,
        "final_after_print_ms": {
            "first": (min(finals) - printed) * 1000 if finals and printed else None,
            "last": (max(finals) - printed) * 1000 if finals and printed else None,
        },
        "stream_seconds": wall1 - wall0,
        "server_cpu_ms": (cpu1 - cpu0) * 1000,
        "rss_before_kb": mem_before["rss_kb"],
        "rss_peak_kb": rss_peak[0],
        "rss_after_kb": mem_after["rss_kb"],
        "hwm_after_kb": mem_after["hwm_kb"],
        "bytes_per_viewer": int(statistics.median(len(v.body) for v in conns)),
    }


# ----------------------------------------------------------------------------- report


def machine() -> dict:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu": model, "kernel": platform.release()}


def mib(kb) -> str:
    return "–" if kb is None else f"{kb / 1024:.1f}"


def ms(x) -> str:
    if x is None:
        return "–"
    return f"{x:.1f}" if abs(x) < 100 else f"{x:.0f}"


def report(r: dict) -> str:
    out = []
    m = r["machine"]
    out.append(f"gantry {r['rev']}, {m['cpus']} CPUs ({m['cpu']}), Linux {m['kernel']}")
    out.append(f"other processes used {r['other_cpu_pct']:.0f}% of the machine's CPU while this ran")
    if "latency" in r:
        lat = r["latency"]
        out.append("")
        out.append(f"### Push to first step ({lat['pushes']} pushes, one at a time, after 1 warm-up)")
        out.append("")
        out.append("| measure | p50 ms | p99 ms | min ms | max ms |")
        out.append("|---|---:|---:|---:|---:|")
        for key, label in [
            ("after_return_ms", "first step's `date` − `git push` returned"),
            ("after_start_ms", "first step's `date` − `git push` started"),
            ("push_ms", "`git push` itself (includes the hook's report to the server)"),
        ]:
            d = lat[key]
            out.append(f"| {label} | {ms(d['p50'])} | {ms(d['p99'])} | {ms(d['min'])} | {ms(d['max'])} |")
        out.append("")
        out.append("Where the time goes (the server's timestamps have millisecond precision):")
        out.append("")
        out.append("| phase | p50 ms | p99 ms | min ms | max ms |")
        out.append("|---|---:|---:|---:|---:|")
        for label, d in lat["phases_ms"].items():
            out.append(f"| {label} | {ms(d['p50'])} | {ms(d['p99'])} | {ms(d['min'])} | {ms(d['max'])} |")
    if "memory" in r:
        mem = r["memory"]
        out.append("")
        out.append("### Server memory (the `gantry serve` process; its watchdog child separately)")
        out.append("")
        out.append(
            "| when | VmRSS MiB | of which heap (RssAnon) | of which the binary's pages (RssFile) "
            "| VmHWM MiB | threads | watchdog RSS MiB |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for label, s in mem.items():
            out.append(
                f"| {label} | {mib(s['rss_kb'])} | {mib(s.get('anon_kb'))} | {mib(s.get('file_kb'))} "
                f"| {mib(s['hwm_kb'])} | {s['threads']} | {mib(s['children_rss_kb'])} |"
            )
    if "pages" in r:
        p = r["pages"]
        out.append("")
        out.append(
            f"### Pages with {r['fill']['runs']:,} runs in the store ({r['fill']['gets']} GETs each, "
            "interleaved, one keep-alive connection, session cookie)"
        )
        out.append("")
        out.append("| page | p50 ms | p99 ms | min ms | max ms | bytes |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for label, d in p.items():
            if label == "dashboard_bytes":
                continue
            out.append(
                f"| `{label}` | {ms(d['p50'])} | {ms(d['p99'])} | {ms(d['min'])} | {ms(d['max'])} | {d['bytes']:,} |"
            )
        out.append("")
        out.append(f"filling the store took {r['fill']['seconds']:.1f} s")
    if "fanout" in r:
        f = r["fanout"]
        out.append("")
        out.append(f"### Live log to {f['viewers']} SSE viewers ({f['lines']:,} lines)")
        out.append("")
        out.append("| measure | value |")
        out.append("|---|---:|")
        out.append(f"| viewers that got every line, in order, and the end | {f['complete']} of {f['viewers']} |")
        out.append(f"| viewers told to reload (fell behind) | {f['reloads']} |")
        out.append(f"| first → last viewer receiving the final line | {ms(f['final_spread_ms'])} ms |")
        a = f["final_after_print_ms"]
        out.append(f"| final line printed → first / last viewer has it | {ms(a['first'])} / {ms(a['last'])} ms |")
        out.append(f"| streaming time (GO → all viewers done) | {f['stream_seconds']:.2f} s |")
        out.append(f"| server CPU meanwhile (user+sys, its own threads) | {ms(f['server_cpu_ms'])} ms |")
        out.append(
            f"| server VmRSS before / peak / after | {mib(f['rss_before_kb'])} / {mib(f['rss_peak_kb'])} / "
            f"{mib(f['rss_after_kb'])} MiB |"
        )
        out.append(f"| bytes received per viewer | {f['bytes_per_viewer']:,} |")
    return "\n".join(out)


def busy_seconds() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gantry", required=True, help="the gantry binary")
    ap.add_argument("--fill", required=True, help="the gantry-store `fill` example binary")
    ap.add_argument("--gantry-rev", default="?")
    ap.add_argument("--cases", default="latency,pages,fanout", help="latency (with memory), pages, fanout")
    ap.add_argument("--pushes", type=int, default=50)
    ap.add_argument("--idle", type=float, default=5, help="seconds idle before the second memory reading")
    ap.add_argument("--runs", type=int, default=10_000, help="runs in the store for the page case")
    ap.add_argument("--gets", type=int, default=200)
    ap.add_argument("--viewers", type=int, default=200)
    ap.add_argument("--paced", type=int, default=300, help="lines printed 10 ms apart")
    ap.add_argument("--burst", type=int, default=2000, help="lines printed at once after them")
    ap.add_argument("--json", help="write every figure and sample here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="gantry-bench-server."))
    results = {"rev": args.gantry_rev, "machine": machine()}
    busy0, wall0 = busy_seconds(), time.monotonic()
    own0 = sum(os.times()[:4])
    servers = []
    try:
        if cases & {"latency", "fanout"}:
            root = tmp / "a"
            bare, work = make_repos(root)
            stamps, go = root / "stamps", root / "GO"
            stamps.mkdir()
            server = Server(args.gantry, root / "data", tmp / "server-a.log")
            servers.append(server)
            results["memory"] = {"after start": memory(server.pid)}
            server.login(server.password)
            server.make_token()
            server.register(bare)
            talk = (
                TALK_WORKFLOW.replace("GO", str(go))
                .replace("PACED", str(args.paced))
                .replace("BURST", str(args.burst))
            )
            commit(
                work,
                {
                    ".github/workflows/stamp.yml": STAMP_WORKFLOW.replace("STAMPS", str(stamps)),
                    ".github/workflows/talk.yml": talk,
                },
                "Workflows",
            )
            if "latency" in cases:
                print(f"==> latency: {args.pushes} pushes", file=sys.stderr)
                results["latency"] = case_latency(server, work, stamps, args.pushes)
                time.sleep(args.idle)
                results["memory"][f"after {args.pushes} pushes, idle {args.idle:g} s"] = memory(server.pid)
            if "fanout" in cases:
                print(f"==> fanout: {args.viewers} viewers", file=sys.stderr)
                results["fanout"] = case_fanout(server, work, go, args.viewers, args.paced, args.burst)
                time.sleep(args.idle)
                results["memory"][f"after the fan-out, idle {args.idle:g} s"] = memory(server.pid)
            server.stop()
            servers.remove(server)
        if "pages" in cases:
            root = tmp / "b"
            bare, _ = make_repos(root)
            data = root / "data"
            server = Server(args.gantry, data, tmp / "server-b.log")
            servers.append(server)
            password = server.password
            server.login(password)
            server.make_token()
            server.register(bare)
            server.stop()
            servers.remove(server)
            print(f"==> pages: filling the store with {args.runs} runs", file=sys.stderr)
            t0 = time.monotonic()
            subprocess.run([args.fill, str(data), REPO, str(args.runs)], check=True)
            results["fill"] = {"runs": args.runs, "gets": args.gets, "seconds": time.monotonic() - t0}
            server = Server(args.gantry, data, tmp / "server-b.log")
            servers.append(server)
            server.login(password)
            results["memory"] = results.get("memory", {})
            results["memory"][f"{args.runs:,} runs in the store, after start and a login"] = memory(server.pid)
            print(f"==> pages: {args.gets} GETs of each page", file=sys.stderr)
            results["pages"] = case_pages(server, args.runs, args.gets, rng)
            results["memory"][f"{args.runs:,} runs, after {3 * args.gets} page GETs"] = memory(server.pid)
            server.stop()
            servers.remove(server)
    finally:
        for s in servers:
            s.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    wall = time.monotonic() - wall0
    own = sum(os.times()[:4]) - own0
    busy = busy_seconds() - busy0
    # Everything this script started (servers, git, steps) counts as ours; the rest is "other".
    results["other_cpu_pct"] = max(0.0, (busy - own) / (wall * (os.cpu_count() or 1)) * 100)
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
