#!/usr/bin/env python3
"""Benchmark helper for scripts/bench (see BENCHMARKS.md).

Times, as a user runs them, the gantry CLI, `make -j2 -s` and (when found) wrkflw on:

  one         a workflow of a single such job: the fixed cost of a run (startup, git, summary)
  par         a workflow of JOBS independent jobs, each one `run: "true"` step
  chain       JOBS such jobs, each `needs` the previous one
  (make runs the same JOBS `bash --noprofile --norc -eo pipefail -c true` with the same dependencies;
  an extra diagnostic gantry row has GANTRY_HOME, and so the job workspaces, on tmpfs)
  container   (not in the default list) a 1-job workflow in `container: IMAGE` against the same job on
              the host and against `docker run --rm IMAGE true`: what starting a job container costs
  throughput  one step that `cat`s a generated text file (lines of ~100 bytes, some containing
              secret values) with SECRETS secrets passed by `--secret`, stdout to /dev/null,
              against `cat FILE | cat > /dev/null` (and, for reference, `cat FILE > /dev/null`)

Every command is started with fork/exec from this process and reaped with wait4(), which gives
the wall time (perf_counter around spawn..reap) and the CPU time (user+sys, including every process
the command started and reaped). Peak memory is VmHWM of the measured process itself, polled from
/proc/PID/status every 5 ms (ru_maxrss is useless here: it counts the pages the forked Python child
had before exec). For par/chain that is one extra untimed run per tool; in the throughput case it is
polled during the timed runs. Runs of the tools being compared are interleaved (a b c, b c a, ...)
so that drift in machine load affects all of them alike, and the CPU that other processes used
meanwhile is reported (from /proc/stat). Nothing is hard-coded: every number printed is measured.

Only the standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BASH_RUN = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]


# ----------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall: float  # seconds
    cpu: float  # seconds, user+sys of the command and its reaped descendants
    hwm_kb: int | None = None  # VmHWM of the top process itself, polled (throughput case)


@dataclass
class Tool:
    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    samples: list[Sample] = field(default_factory=list)
    before_each: object = None  # callable run (untimed) before every run
    poll_hwm: bool = False
    pipe_into: list[str] | None = None  # argv of a second process reading our stdout
    mem_kb: int | None = None  # VmHWM of the top process, from measure_memory()


def _poll_vmhwm(pid: int, out: list[int], stop: threading.Event) -> None:
    path = f"/proc/{pid}/status"
    while not stop.is_set():
        try:
            with open(path, "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        out.append(int(line.split()[1]))
                        break
        except OSError:
            return
        stop.wait(0.005)


def run_once(tool: Tool, stderr_path: Path) -> Sample:
    """Run the tool once; raise if it fails. stdout goes to /dev/null (or through a pipe)."""
    if tool.before_each:
        tool.before_each()
    devnull = os.open(os.devnull, os.O_WRONLY)
    errf = open(stderr_path, "wb")
    try:
        hwm: list[int] = []
        stop = threading.Event()
        t0 = time.perf_counter()
        if tool.pipe_into is None:
            p = subprocess.Popen(
                tool.argv, cwd=tool.cwd, env=tool.env, stdin=subprocess.DEVNULL, stdout=devnull, stderr=errf
            )
            procs = [p]
        else:
            p = subprocess.Popen(
                tool.argv, cwd=tool.cwd, env=tool.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf
            )
            q = subprocess.Popen(tool.pipe_into, cwd=tool.cwd, env=tool.env, stdin=p.stdout, stdout=devnull, stderr=errf)
            p.stdout.close()
            procs = [p, q]
        poller = None
        if tool.poll_hwm:
            poller = threading.Thread(target=_poll_vmhwm, args=(p.pid, hwm, stop), daemon=True)
            poller.start()
        cpu = 0.0
        codes = []
        for proc in procs:
            _, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            codes.append(proc.returncode)
            cpu += ru.ru_utime + ru.ru_stime
        wall = time.perf_counter() - t0
        stop.set()
        if poller:
            poller.join()
    finally:
        os.close(devnull)
        errf.close()
    if any(codes):
        tail = stderr_path.read_bytes()[-3000:].decode(errors="replace")
        raise SystemExit(f"bench: {tool.name} failed (exit {codes}): {' '.join(tool.argv)}\n{tail}")
    return Sample(wall, cpu, max(hwm) if hwm else None)


def cpu_busy_seconds() -> float:
    """Busy (non-idle, non-iowait) CPU time of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def measure(tools: list[Tool], runs: int, warmup: int, tmp: Path, label: str) -> float:
    """Runs every tool warmup + runs times; returns the share (0..1) of the machine's CPU capacity
    that *other* processes used during the timed runs (0 on a quiet machine)."""
    err = tmp / f"stderr-{label}.txt"
    for _ in range(warmup):
        for t in tools:
            run_once(t, err)
    busy0 = cpu_busy_seconds()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for i in range(runs):
        order = tools[i % len(tools):] + tools[: i % len(tools)]  # rotate who goes first
        for t in order:
            t.samples.append(run_once(t, err))
        print(f"  run {i + 1}/{runs}: " + "  ".join(f"{t.name} {t.samples[-1].wall * 1000:.0f} ms" for t in tools),
              file=sys.stderr, flush=True)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    ours = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    ours += (me1.ru_utime - me0.ru_utime) + (me1.ru_stime - me0.ru_stime)
    other = cpu_busy_seconds() - busy0 - ours
    return max(0.0, other / (wall * (os.cpu_count() or 1)))


def measure_memory(tools: list[Tool], tmp: Path, label: str) -> None:
    """One extra untimed run of each tool with VmHWM polled (polling would perturb the timed runs)."""
    err = tmp / f"stderr-{label}-mem.txt"
    for t in tools:
        poll, t.poll_hwm = t.poll_hwm, True
        t.mem_kb = run_once(t, err).hwm_kb
        t.poll_hwm = poll


def med(xs):
    return statistics.median(xs)


def summary(t: Tool) -> dict:
    w = [s.wall for s in t.samples]
    c = [s.cpu for s in t.samples]
    d = {
        "median_ms": med(w) * 1000,
        "min_ms": min(w) * 1000,
        "max_ms": max(w) * 1000,
        "cpu_median_ms": med(c) * 1000,
        "vmhwm_kb": t.mem_kb,
        "samples_ms": [round(x * 1000, 2) for x in w],
        "cpu_samples_ms": [round(x * 1000, 2) for x in c],
    }
    h = [s.hwm_kb for s in t.samples if s.hwm_kb is not None]
    if h:  # polled during the timed runs
        d["vmhwm_kb"] = max(h)
        d["vmhwm_median_kb"] = med(h)
    return d


# ----------------------------------------------------------------------------- fixtures


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, stdout=subprocess.DEVNULL)


def make_repo(path: Path, workflows: dict[str, str]) -> Path:
    (path / ".github" / "workflows").mkdir(parents=True)
    for name, text in workflows.items():
        (path / ".github" / "workflows" / name).write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    git(path, "add", "-A")
    git(path, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false",
        "commit", "-q", "-m", "bench")
    return path


def jobs_workflow(name: str, n: int, chain: bool) -> str:
    out = [f"name: {name}", "on: push", "jobs:"]
    for i in range(n):
        out.append(f"  j{i}:")
        out.append("    runs-on: ubuntu-latest")
        if chain and i > 0:
            out.append(f"    needs: j{i - 1}")
        out.append("    steps:")
        out.append('      - run: "true"')
    return "\n".join(out) + "\n"


def jobs_makefile(n: int, chain: bool) -> str:
    # make runs every recipe line as `$(SHELL) $(.SHELLFLAGS) 'LINE'`, i.e. exactly
    # `bash --noprofile --norc -eo pipefail -c true` (the non-default .SHELLFLAGS also keep GNU make
    # from exec'ing `true` directly without a shell).
    names = [f"j{i}" for i in range(n)]
    out = [
        "SHELL := /bin/bash",
        ".SHELLFLAGS := --noprofile --norc -eo pipefail -c",
        "all: " + " ".join(names),
        ".PHONY: all " + " ".join(names),
    ]
    for i, nm in enumerate(names):
        dep = f" j{i - 1}" if chain and i > 0 else ""
        out.append(f"{nm}:{dep}")
        out.append("\ttrue")
    return "\n".join(out) + "\n"


def gen_secrets(rng: random.Random, n: int) -> list[str]:
    alphabet = string.ascii_letters + string.digits
    return [f"sk_{i:03d}_" + "".join(rng.choice(alphabet) for _ in range(24)) for i in range(n)]


WORDS = ("build test deploy artifact cache runner step job matrix output status compile link "
         "archive upload checkout release version commit branch workflow event token").split()


def gen_data(path: Path, size: int, secrets: list[str], rng: random.Random, secret_every: int) -> tuple[int, int]:
    """Write ~size bytes of ~100-byte text lines; every `secret_every`-th line carries one secret.

    Returns (lines, lines_with_a_secret)."""
    # A pool of line bodies (80-90 bytes of words) is generated once and combined with a line number,
    # so that generating 500 MB takes seconds, not minutes; every line is still different.
    bodies = []
    for _ in range(4096):
        s = ""
        target = rng.randint(80, 92)
        while len(s) < target:
            s += rng.choice(WORDS) + " "
        bodies.append(s[:target])
    written = 0
    lines = 0
    with_secret = 0
    chunk: list[str] = []
    with open(path, "w", encoding="ascii") as f:
        while written < size:
            chunk.clear()
            csize = 0
            for _ in range(10000):
                body = bodies[(lines * 2654435761) % 4096]
                if lines % secret_every == 7 % secret_every:
                    sec = secrets[lines % len(secrets)]
                    cut = (lines // len(secrets)) % 40
                    body = body[:cut] + " token=" + sec + " " + body[cut + len(sec) + 8:]
                    with_secret += 1
                line = f"{lines:010d} {body}\n"
                chunk.append(line)
                csize += len(line)
                lines += 1
                if written + csize >= size:
                    break
            f.write("".join(chunk))
            written += csize
    return lines, with_secret


# ----------------------------------------------------------------------------- cases


def gantry_tool(name: str, gantry: str, repo: Path, home: Path, workflow: str, extra: list[str] | None = None) -> Tool:
    env = dict(os.environ, GANTRY_HOME=str(home))
    return Tool(name, [gantry, "run", "-C", str(repo), workflow, *(extra or [])], repo, env)


def wrkflw_tool(wrkflw: str, repo: Path, workflow: str, runtime_args: list[str]) -> Tool:
    env = dict(os.environ)
    return Tool("wrkflw", [wrkflw, "run", *runtime_args, f".github/workflows/{workflow}"], repo, env)


def case_jobs(args, tmp: Path, chain: bool, one: bool = False) -> dict:
    label = "one" if one else "chain" if chain else "par"
    n = 1 if one else args.jobs
    root = tmp / label
    repo = make_repo(root / "repo", {f"{label}.yml": jobs_workflow(label, n, chain)})
    mk = root / "make"
    mk.mkdir()
    (mk / "Makefile").write_text(jobs_makefile(n, chain))
    home = root / "gantry-home"
    tools = [
        Tool("make", ["make", "-j2", "-s", "-C", str(mk)], mk, dict(os.environ)),
        gantry_tool("gantry", args.gantry, repo, home, f"{label}.yml"),
    ]
    if args.wrkflw:
        tools.append(wrkflw_tool(args.wrkflw, repo, f"{label}.yml", args.wrkflw_args))
    if args.shm_dir:
        # Diagnostic only: the same run with GANTRY_HOME (so the job workspaces too) on tmpfs, which
        # separates the engine's own cost from the cost of the filesystem it creates files on.
        tools.append(gantry_tool("gantry, GANTRY_HOME on tmpfs", args.gantry, repo, args.shm_dir / label, f"{label}.yml"))
    desc = f"{n} jobs, each `needs` the previous one" if chain else f"{n} independent job(s)"
    print(f"\n== {label}: {desc}, one `run: \"true\"` step each ({args.runs} runs, {args.warmup} warm-up)",
          file=sys.stderr, flush=True)
    other_load = measure(tools, args.runs, args.warmup, tmp, label)
    measure_memory(tools, tmp, label)
    res = {"case": label, "jobs": n, "other_load": other_load, "tools": {t.name: summary(t) for t in tools}}
    m = res["tools"]["make"]
    for t in res["tools"].values():
        t["ratio_to_make"] = t["median_ms"] / m["median_ms"]
        t["cpu_per_job_ms"] = t["cpu_median_ms"] / n
    for name, g in res["tools"].items():
        if name.startswith("gantry"):
            g["cpu_per_job_minus_make_ms"] = (g["cpu_median_ms"] - m["cpu_median_ms"]) / n
            if "wrkflw" in res["tools"]:
                g["ratio_to_wrkflw"] = g["median_ms"] / res["tools"]["wrkflw"]["median_ms"]
    return res


def case_container(args, tmp: Path) -> dict:
    """Container job start: a 1-job workflow in `container: IMAGE` against the same job on the host
    (the difference is what the container costs: network, create, start, exec, remove) and against
    `docker run --rm IMAGE true` (create, start, attach, wait, remove through the docker CLI)."""
    image = args.image
    root = tmp / "container"
    step = 'steps:\n      - run: "true"\n'
    repo = make_repo(root / "repo", {
        "host.yml": f"on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    {step}",
        "container.yml": f"on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    container: {image}\n    {step}",
    })
    home = root / "gantry-home"
    tools = [
        Tool("docker run --rm", ["docker", "run", "--rm", image, "true"], root, dict(os.environ)),
        gantry_tool("gantry, host job", args.gantry, repo, home, "host.yml"),
        gantry_tool("gantry, container job", args.gantry, repo, home, "container.yml"),
    ]
    print(f"\n== container: one job in `{image}` ({args.runs} runs, {args.warmup} warm-up)", file=sys.stderr, flush=True)
    other_load = measure(tools, args.runs, args.warmup, tmp, "container")
    res = {"case": "container", "image": image, "other_load": other_load, "tools": {t.name: summary(t) for t in tools}}
    t = res["tools"]
    res["container_overhead_ms"] = t["gantry, container job"]["median_ms"] - t["gantry, host job"]["median_ms"]
    res["ratio_to_docker_run"] = res["container_overhead_ms"] / t["docker run --rm"]["median_ms"]
    return res


def case_throughput(args, tmp: Path) -> dict:
    root = tmp / "throughput"
    root.mkdir()
    rng = random.Random(20240601)
    secrets = gen_secrets(rng, args.secrets)
    size = int(args.size_mb * 1_000_000)
    data = root / "data.txt"
    print(f"\n== throughput: generating {size / 1e6:.0f} MB of text lines ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    lines, with_secret = gen_data(data, size, secrets, rng, args.secret_every)
    size = data.stat().st_size
    print(f"   {lines} lines, {with_secret} with a secret, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    # A small file from the same generator, to check masking on the real output.
    small = root / "small.txt"
    s_lines, s_with = gen_data(small, 2_000_000, secrets, random.Random(7), args.secret_every)

    wf = (
        "name: throughput\non: push\njobs:\n  cat:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - run: cat {data}\n"
    )
    wf_small = (
        "name: verify\non: push\njobs:\n  cat:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - run: cat {small}\n"
    )
    repo = make_repo(root / "repo", {"throughput.yml": wf, "verify.yml": wf_small})
    home = root / "gantry-home"
    secret_args: list[str] = []
    for i, s in enumerate(secrets):
        secret_args += ["--secret", f"BENCH_SECRET_{i:03d}={s}"]

    # 1. masking check: no secret value may reach stdout or the stored log; every occurrence is masked.
    env = dict(os.environ, GANTRY_HOME=str(home))
    out = subprocess.run([args.gantry, "run", "-C", str(repo), "verify.yml", *secret_args], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout.decode()
    stored = "".join(p.read_text(errors="replace") for p in (home / "runs").rglob("*") if p.is_file())
    leaked = [s for s in secrets if s in out or s in stored]
    masked_lines = sum(1 for ln in out.splitlines() if "token=***" in ln)
    data_lines = len(re.findall(r"^\S+\s+\d{10} ", out, re.M))  # "[cat]   0000000042 words..."
    check = {
        "lines": s_lines,
        "lines_on_stdout": data_lines,
        "lines_with_secret": s_with,
        "masked_lines_on_stdout": masked_lines,
        "leaked_secrets": len(leaked),
    }
    print(f"   masking check (2 MB): {check}", file=sys.stderr)
    if leaked or masked_lines < s_with or data_lines != s_lines:
        raise SystemExit(f"bench: masking check failed: {check}")
    del out, stored

    def clear_runs():  # keep GANTRY_HOME from filling the disk with stored 500 MB logs (untimed)
        shutil.rmtree(home / "runs", ignore_errors=True)

    g = gantry_tool("gantry", args.gantry, repo, home, "throughput.yml", secret_args)
    g.before_each = clear_runs
    g.poll_hwm = True
    tools = [
        Tool("cat|cat", ["cat", str(data)], root, dict(os.environ), pipe_into=["cat"]),
        g,
        Tool("cat", ["cat", str(data)], root, dict(os.environ)),
    ]
    # A pipe between two CPUs costs far more per transfer on some VMs than a pipe
    # whose both ends share one CPU; the scheduler picks either. `cat | cat` with
    # both processes pinned to CPU 0 is the best case a pipe allows.
    if shutil.which("taskset"):
        tools.append(Tool("cat|cat, one CPU", ["taskset", "-c", "0", "cat", str(data)], root,
                          dict(os.environ), pipe_into=["taskset", "-c", "0", "cat"]))
    print(f"== throughput: {size / 1e6:.0f} MB, {args.secrets} secrets ({args.runs} runs, {args.warmup} warm-up)",
          file=sys.stderr, flush=True)
    other_load = measure(tools, args.runs, args.warmup, tmp, "throughput")
    # Size of what gantry stored for the last run (the log is part of the work a user's run does).
    stored_bytes = sum(p.stat().st_size for p in (home / "runs").rglob("*") if p.is_file())
    clear_runs()
    res = {
        "case": "throughput",
        "other_load": other_load,
        "bytes": size,
        "lines": lines,
        "lines_with_secret": with_secret,
        "secrets": args.secrets,
        "masking_check": check,
        "gantry_stored_log_bytes": stored_bytes,
        "tools": {t.name: summary(t) for t in tools},
    }
    base = res["tools"]["cat|cat"]
    pinned = res["tools"].get("cat|cat, one CPU")
    for t in res["tools"].values():
        t["mb_per_s"] = size / 1e6 / (t["median_ms"] / 1000)
        t["ratio_to_cat_pipe"] = t["median_ms"] / base["median_ms"]
        if pinned:
            t["ratio_to_pinned_cat_pipe"] = t["median_ms"] / pinned["median_ms"]
    data.unlink()
    return res


# ----------------------------------------------------------------------------- report


def machine() -> dict:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def first_line(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0].strip()
        except (OSError, IndexError):
            return "?"

    fs = first_line(["findmnt", "-no", "FSTYPE,SOURCE", "-T", "/tmp"])
    parts = fs.split()
    if len(parts) == 2 and parts[0] == "ext4":  # is there a journal? (it changes inode allocation costs)
        try:
            task = Path(f"/sys/fs/ext4/{Path(parts[1]).name}/journal_task").read_text().strip()
            fs += " (no journal)" if task == "<none>" else " (journal)"
        except OSError:
            pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "tmp_fs": fs,
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "make": first_line(["make", "--version"]),
        "bash": first_line(["bash", "--version"]),
        "cat": first_line(["cat", "--version"]),
    }


def fmt_ms(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def fmt_mem(kb) -> str:
    return "–" if kb is None else f"{kb / 1024:.1f}"


def report(results: dict) -> str:
    out = []
    m = results["machine"]
    out.append(f"machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}; /tmp on {m['tmp_fs']}")
    out.append(f"load:    average at start {' '.join(m['loadavg'])}, at end {' '.join(results['loadavg_end'])}")
    out.append(f"tools:   {m['make']}; {m['bash']}; {m['cat']}")
    out.append(f"gantry:  {results['gantry']} (built from {results['gantry_rev']})")
    missing = "not found (install: cargo install wrkflw --version '^0.8' --locked)"
    out.append(f"wrkflw:  {results['wrkflw'] or missing}")
    out.append(f"runs:    {results['runs']} timed per tool and case (+{results['warmup']} warm-up), interleaved")
    for c in results["cases"]:
        out.append("")
        if c["case"] in ("one", "par", "chain"):
            title = {"one": "1 job (the fixed cost of a run)", "par": f"{c['jobs']} independent jobs",
                     "chain": f"chain of {c['jobs']} jobs linked by `needs`"}[c["case"]]
            out.append(f"### {title}")
            out.append("")
            out.append(f"(other processes used {c['other_load'] * 100:.0f}% of the machine's CPU during these runs)")
            out.append("")
            out.append("| command | median ms | min ms | max ms | × make | CPU ms (user+sys) | CPU ms / job | peak RSS MiB |")
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
            for name, t in c["tools"].items():
                out.append(f"| {name} | {fmt_ms(t['median_ms'])} | {fmt_ms(t['min_ms'])} | {fmt_ms(t['max_ms'])} | "
                           f"{t['ratio_to_make']:.2f} | {fmt_ms(t['cpu_median_ms'])} | {t['cpu_per_job_ms']:.2f} | "
                           f"{fmt_mem(t['vmhwm_kb'])} |")
            out.append("")
            for name, g in c["tools"].items():
                if name.startswith("gantry"):
                    out.append(f"- {name}: × make {g['ratio_to_make']:.2f}"
                               + (f", × wrkflw {g['ratio_to_wrkflw']:.2f}" if "ratio_to_wrkflw" in g else "")
                               + f"; CPU per job beyond make's: {g['cpu_per_job_minus_make_ms']:.2f} ms")
        elif c["case"] == "container":
            out.append(f"### container job start (`{c['image']}`)")
            out.append("")
            out.append(f"(other processes used {c['other_load'] * 100:.0f}% of the machine's CPU during these runs)")
            out.append("")
            out.append("| command | median ms | min ms | max ms |")
            out.append("|---|---:|---:|---:|")
            for name, t in c["tools"].items():
                out.append(f"| {name} | {fmt_ms(t['median_ms'])} | {fmt_ms(t['min_ms'])} | {fmt_ms(t['max_ms'])} |")
            out.append("")
            out.append(f"- container overhead (container job − host job): {fmt_ms(c['container_overhead_ms'])} ms, "
                       f"× `docker run --rm`: {c['ratio_to_docker_run']:.2f}")
        else:
            out.append(f"### throughput: {c['bytes'] / 1e6:.0f} MB ({c['lines']} lines, {c['lines_with_secret']} "
                       f"with a secret), {c['secrets']} secrets")
            out.append("")
            out.append(f"(other processes used {c['other_load'] * 100:.0f}% of the machine's CPU during these runs)")
            out.append("")
            out.append("| command | median ms | min ms | max ms | MB/s | × `cat \\| cat` | × `cat \\| cat` on one CPU "
                       "| CPU ms | peak RSS MiB |")
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            for name, t in c["tools"].items():
                label = {"cat|cat": "`cat FILE \\| cat >/dev/null`", "cat": "`cat FILE >/dev/null`",
                         "gantry": "`gantry run … >/dev/null`",
                         "cat|cat, one CPU": "`taskset -c 0 cat FILE \\| taskset -c 0 cat >/dev/null`"}[name]
                pinned = t.get("ratio_to_pinned_cat_pipe")
                out.append(f"| {label} | {fmt_ms(t['median_ms'])} | {fmt_ms(t['min_ms'])} | {fmt_ms(t['max_ms'])} | "
                           f"{t['mb_per_s']:.0f} | {t['ratio_to_cat_pipe']:.2f} | "
                           f"{'–' if pinned is None else f'{pinned:.2f}'} | {fmt_ms(t['cpu_median_ms'])} | "
                           f"{fmt_mem(t.get('vmhwm_kb'))} |")
            g = c["tools"]["gantry"]
            out.append("")
            out.append(f"- gantry peak RSS (VmHWM of the gantry process, polled): max {fmt_mem(g.get('vmhwm_kb'))} MiB, "
                       f"median {fmt_mem(g.get('vmhwm_median_kb'))} MiB over the runs")
            out.append(f"- gantry stored log of one run: {c['gantry_stored_log_bytes'] / 1e6:.1f} MB")
            out.append(f"- masking check (2 MB from the same generator): {c['masking_check']}")
    one = next((c for c in results["cases"] if c["case"] == "one"), None)
    many = [c for c in results["cases"] if c["case"] in ("par", "chain")]
    if one and many:
        out.append("")
        out.append("### marginal cost of a job: (case − 1-job case) / (jobs − 1)")
        out.append("")
        out.append("| command | " + " | ".join(f"{c['case']} wall ms/job | {c['case']} CPU ms/job" for c in many) + " |")
        out.append("|---|" + "---:|---:|" * len(many))
        for name in one["tools"]:
            cells = []
            for c in many:
                t, o, k = c["tools"].get(name), one["tools"][name], c["jobs"] - 1
                cells += ["–", "–"] if t is None or k < 1 else [
                    f"{(t['median_ms'] - o['median_ms']) / k:.2f}", f"{(t['cpu_median_ms'] - o['cpu_median_ms']) / k:.2f}"]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="scripts/bench builds gantry and passes --gantry, --gantry-rev and --wrkflw itself; "
               "it also takes --no-build (measure target/release/gantry as it is).")
    ap.add_argument("--gantry", required=True, help="the gantry binary")
    ap.add_argument("--gantry-rev", default="?", help="what the binary was built from (for the report)")
    ap.add_argument("--wrkflw", help="the wrkflw binary (omit: not measured)")
    ap.add_argument("--wrkflw-args", default="--runtime emulation",
                    help="options put between `wrkflw run` and the workflow file [%(default)s]")
    ap.add_argument("-n", "--runs", type=int, default=10, help="timed runs per tool and case [%(default)s]")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first [%(default)s]")
    ap.add_argument("--jobs", type=int, default=50, help="jobs per workflow [%(default)s]")
    ap.add_argument("--size-mb", type=float, default=500, help="throughput case size in MB [%(default)s]")
    ap.add_argument("--secrets", type=int, default=100, help="secrets registered [%(default)s]")
    ap.add_argument("--secret-every", type=int, default=16, help="every Nth line carries a secret [%(default)s]")
    ap.add_argument("--cases", default="one,par,chain,throughput", help="comma-separated, also: container [%(default)s]")
    ap.add_argument("--image", default="gantry-test/busybox:1", help="image of the container case [%(default)s]")
    ap.add_argument("--no-tmpfs", action="store_true",
                    help="skip the diagnostic extra gantry run with GANTRY_HOME on tmpfs (/dev/shm)")
    ap.add_argument("--json", help="also write all results (with every sample) to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    args.wrkflw_args = args.wrkflw_args.split()
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="gantry-bench-", dir="/tmp"))
    args.shm_dir = None
    if not args.no_tmpfs and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        args.shm_dir = Path(tempfile.mkdtemp(prefix="gantry-bench-", dir="/dev/shm"))
    results = {
        "machine": machine(),
        "gantry": args.gantry,
        "gantry_rev": args.gantry_rev,
        "wrkflw": None,
        "runs": args.runs,
        "warmup": args.warmup,
        "cases": [],
    }
    if args.wrkflw:
        v = subprocess.run([args.wrkflw, "--version"], capture_output=True, text=True).stdout.strip()
        results["wrkflw"] = f"{args.wrkflw} ({v}; `wrkflw run {' '.join(args.wrkflw_args)} FILE`)"
    try:
        for case in args.cases.split(","):
            if case == "one":
                results["cases"].append(case_jobs(args, tmp, chain=False, one=True))
            elif case == "par":
                results["cases"].append(case_jobs(args, tmp, chain=False))
            elif case == "chain":
                results["cases"].append(case_jobs(args, tmp, chain=True))
            elif case == "throughput":
                results["cases"].append(case_throughput(args, tmp))
            elif case == "container":
                results["cases"].append(case_container(args, tmp))
            else:
                raise SystemExit(f"bench: unknown case {case!r}")
    finally:
        if args.keep:
            print(f"\nkept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        if args.shm_dir:
            shutil.rmtree(args.shm_dir, ignore_errors=True)
    results["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(report(results))


if __name__ == "__main__":
    main()
