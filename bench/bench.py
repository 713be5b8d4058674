#!/usr/bin/env python3
"""The benchmark of ecnow-gateway against its built-in emulator (run through bench/run).

Starts `ecnow-gateway emulator` and `ecnow-gateway serve` on free loopback ports, drives them
with wrk (bench/wrk.lua), and compares "through the gateway" with "straight to the emulator"
under the same load in the same run. Prints a table with PASS/FAIL against the targets and
writes target/bench/results.json. Only loopback addresses; every load is bounded in time or
count. Settings are environment variables (see bench/README.md).
"""

import asyncio
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "target" / "bench"
LOG_DIR = OUT_DIR / "logs"
WRK_LUA = ROOT / "bench" / "wrk.lua"
HOST = "127.0.0.1"
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
READ_PATH_GW = "/datasets/100/records/550000"
TICK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


BIN = Path(os.environ.get("BENCH_BIN") or ROOT / "target" / "release" / "ecnow-gateway")
RUNS = env_int("BENCH_RUNS", 3)
DURATION = env_int("BENCH_DURATION", 10)  # seconds of each measured load run
WARMUP = env_int("BENCH_WARMUP", 2)  # seconds of an unmeasured run before each
CONNS = env_int("BENCH_CONNECTIONS", 64)
MEM_CONNS = env_int("BENCH_MEM_CONNECTIONS", 256)
STAMPEDE = env_int("BENCH_STAMPEDE", 1000)
STARTS = env_int("BENCH_STARTS", 5)
BATCH_TOTAL = env_int("BENCH_BATCH_RECORDS", 10_000)
BATCH_SIZE = env_int("BENCH_BATCH_SIZE", 500)
BATCH_REPEAT = env_int("BENCH_BATCH_REPEAT", 5)  # timed 10,000-record rounds per side and run
NPROC = os.cpu_count() or 1
PIN = os.environ.get("BENCH_PIN", "1") != "0" and NPROC >= 2
# Pinned: the load generator alone on CPU 0, the gateway and the emulator on the others.
LOADGEN_CPUS = "0" if PIN else None
SERVER_CPUS = ("1" if NPROC == 2 else f"1-{NPROC - 1}") if PIN else None

TARGETS = {
    "read_ratio": (">=", 0.60),
    "create_ratio": (">=", 0.60),
    "added_p50_c1_us": ("<=", 100.0),
    "token_fetches": ("==", 1),
    "peak_rss_mib": ("<=", 40.0),
    "startup_ms": ("<=", 100.0),
    "batch_ratio": (">=", 0.95),
}


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pinned(cmd, cpus):
    return (["taskset", "-c", cpus] + cmd) if cpus else cmd


# ---------------------------------------------------------------- processes and /proc


class Proc:
    """A child process (the binary itself: taskset execs it), its log and /proc readings."""

    def __init__(self, name, cmd, env=None):
        self.name = name
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log = open(LOG_DIR / f"{name}.log", "ab")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        self.pid = self.popen.pid

    def cpu_seconds(self):
        """utime + stime of every thread, in seconds."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def status_kib(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise KeyError(key)

    def alive(self):
        return self.popen.poll() is None

    def stop(self, grace=5.0):
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


def http_get(port, path, token=None, timeout=5.0):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until(predicate, what, timeout=30.0, interval=0.001):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


def tcp_open(port):
    with socket.create_connection((HOST, port), timeout=1):
        return True


class Stack:
    """The emulator and one gateway in front of it."""

    def __init__(self):
        self.emu_port = free_port()
        self.emulator = Proc(
            "emulator",
            pinned(
                [str(BIN), "emulator", "--listen", f"{HOST}:{self.emu_port}",
                 "--username", "sandbox", "--api-key", "sandbox", "--token-lifetime", "12h"],
                SERVER_CPUS,
            ),
            env={**os.environ, "RUST_LOG": "warn"},
        )
        wait_until(lambda: tcp_open(self.emu_port), "the emulator")
        status, body = http_get(
            self.emu_port, "/token.php?action=get&username=sandbox&password=sandbox&format=json"
        )
        answer = json.loads(body)
        if status != 200 or not answer.get("success"):
            raise RuntimeError(f"emulator token.php answered {status} {body[:200]!r}")
        self.upstream_token = answer["token"]
        self.gateway = None
        self.gw_port = None
        self.gw_env = {
            **os.environ,
            "CONTACTNOW_BASE_URL": f"http://{HOST}:{self.emu_port}/",
            "CONTACTNOW_USERNAME": "sandbox",
            "CONTACTNOW_API_KEY": "sandbox",
            "GATEWAY_JWT_HS256_SECRET": SECRET,
            "RUST_LOG": "warn",
        }
        self.jwt = subprocess.run(
            [str(BIN), "token", "--scope", "records:read records:write"],
            env=self.gw_env, check=True, capture_output=True, text=True,
        ).stdout.strip()

    def start_gateway(self, ready=True):
        """Starts a fresh gateway; returns ms from exec to /readyz 200 (ready=True) or waits
        only for /healthz (ready=False: no token is fetched, for the stampede)."""
        if self.gateway:
            self.gateway.stop()
        self.gw_port = free_port()
        env = {**self.gw_env, "GATEWAY_LISTEN": f"{HOST}:{self.gw_port}"}
        self.gateway = Proc("gateway", pinned([str(BIN), "serve"], SERVER_CPUS), env=env)
        path = "/readyz" if ready else "/healthz"

        def answered():
            if not self.gateway.alive():
                raise RuntimeError(f"the gateway exited; see {LOG_DIR / 'gateway.log'}")
            return http_get(self.gw_port, path, timeout=2)[0] == 200

        wait_until(answered, f"gateway {path}")
        return (time.perf_counter() - self.gateway.started) * 1000.0

    def emulator_path(self, action, extra=""):
        return (f"/ecnow.php?token={self.upstream_token}"
                f"&method=ecnow_records&action={action}&format=json&raw=1{extra}")

    def emulator_url(self, action, extra=""):
        return f"http://{HOST}:{self.emu_port}{self.emulator_path(action, extra)}"

    def stop(self):
        for proc in (self.gateway, self.emulator):
            if proc:
                proc.stop()


# ---------------------------------------------------------------- load runs


def system_busy_seconds():
    """CPU time all CPUs spent busy since boot (from /proc/stat), in seconds."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICK


def wrk_run(url, conns, seconds, method="GET", body=None, auth=None, watch=()):
    """One bounded wrk run; returns its summary plus the CPU use of the watched processes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        env = {**os.environ, "BENCH_METHOD": method, "BENCH_OUT": str(out),
               "BENCH_AUTH": auth or "", "BENCH_BODY_FILE": ""}
        if body is not None:
            (Path(tmp) / "body.json").write_bytes(body)
            env["BENCH_BODY_FILE"] = str(Path(tmp) / "body.json")
        loadgen_cpus = 1 if PIN else NPROC
        threads = max(1, min(conns, loadgen_cpus))
        cmd = pinned(["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{seconds}s",
                      "--timeout", "10s", "-s", str(WRK_LUA), url], LOADGEN_CPUS)
        before = {p.name: p.cpu_seconds() for p in watch}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy = system_busy_seconds()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        peak_hwm = {}
        while proc.poll() is None:
            for p in watch:
                peak_hwm[p.name] = p.status_kib("VmHWM")
            time.sleep(0.2)
        wall = time.perf_counter() - started
        after = {p.name: p.cpu_seconds() for p in watch}
        busy = system_busy_seconds() - busy
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk_cpu = (reaped.ru_utime + reaped.ru_stime) - (children.ru_utime + children.ru_stime)
        output = proc.stdout.read().decode(errors="replace")
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({proc.returncode}): {output}")
        result = json.loads(out.read_text())
    seconds_run = result["duration_us"] / 1e6
    ok = result["requests"] - result["errors"]["status"]
    result["rps"] = ok / seconds_run
    result["cpu_pct"] = {name: 100.0 * (after[name] - before[name]) / wall for name in after}
    result["cpu_pct"]["wrk"] = 100.0 * wrk_cpu / wall
    ours = wrk_cpu + sum(after[name] - before[name] for name in after)
    # CPU used by processes other than ours during the run (other work on a shared machine).
    result["cpu_pct"]["other_processes"] = max(0.0, 100.0 * (busy - ours) / wall)
    result["cpu_us_per_request"] = {
        name: 1e6 * (after[name] - before[name]) / max(result["requests"], 1) for name in after
    }
    result["vmhwm_kib"] = peak_hwm
    return result


def measure(stack, scenario, target, conns):
    """Warm-up then a measured run of one scenario against `target` (direct or gateway)."""
    if scenario == "read":
        method, body = "GET", None
        if target == "gateway":
            url, auth = f"http://{HOST}:{stack.gw_port}{READ_PATH_GW}", stack.jwt
        else:
            url, auth = stack.emulator_url("read", "&dataset=100&id=550000&limit=1"), None
    else:
        method = "POST"
        if target == "gateway":
            url, auth = f"http://{HOST}:{stack.gw_port}/datasets/100/records", stack.jwt
            body = b'{"mobile_phone":"07123456789"}'
        else:
            url, auth = stack.emulator_url("create"), None
            body = b'[{"dataset":"100","mobilephone":"07123456789"}]'
    watch = [stack.emulator] + ([stack.gateway] if target == "gateway" else [])
    if WARMUP > 0:
        wrk_run(url, conns, WARMUP, method, body, auth)
    result = wrk_run(url, conns, DURATION, method, body, auth, watch)
    errors = {k: v for k, v in result["errors"].items() if v}
    log(f"{scenario:6} c={conns:<3} {target:7}: {result['rps']:9.0f} req/s  "
        f"p50 {result['latency_us']['p50']:7.0f} us  p99 {result['latency_us']['p99']:7.0f} us  "
        f"cpu% {', '.join(f'{k} {v:.0f}' for k, v in result['cpu_pct'].items())}"
        + (f"  errors {errors}" if errors else ""))
    return result


def check_routes(stack):
    """One request of each kind, checked, before any load."""
    status, body = http_get(stack.gw_port, READ_PATH_GW, stack.jwt)
    if status != 200:
        raise RuntimeError(f"gateway read answered {status}: {body[:300]!r}")
    status, body = http_get(stack.emu_port,
                            stack.emulator_path("read", "&dataset=100&id=550000&limit=1"))
    if status != 200 or not json.loads(body).get("success"):
        raise RuntimeError(f"emulator read answered {status}: {body[:300]!r}")
    conn = http.client.HTTPConnection(HOST, stack.gw_port, timeout=10)
    conn.request("POST", "/datasets/100/records", body=b'{"mobile_phone":"07123456789"}',
                 headers={"Authorization": f"Bearer {stack.jwt}",
                          "Content-Type": "application/json"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 201:
        raise RuntimeError(f"gateway create answered {response.status}: {body[:300]!r}")


# ---------------------------------------------------------------- stampede


async def _stampede(port, jwt, n):
    request = (f"GET {READ_PATH_GW} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
               f"Authorization: Bearer {jwt}\r\nConnection: close\r\n\r\n").encode()
    # Open every connection first, then send every request at once.
    streams = await asyncio.gather(*(asyncio.open_connection(HOST, port) for _ in range(n)))
    for _, writer in streams:
        writer.write(request)
    started = time.perf_counter()
    await asyncio.gather(*(writer.drain() for _, writer in streams))

    async def answer(reader, writer):
        data = await reader.read()
        writer.close()
        line = data.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 else 0

    statuses = await asyncio.wait_for(
        asyncio.gather(*(answer(r, w) for r, w in streams)), timeout=60)
    elapsed = time.perf_counter() - started
    counts = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    return counts, elapsed


def metric_value(text, name, labels=""):
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})?\s+([0-9.eE+-]+)$", re.M)
    total = 0.0
    for match in pattern.finditer(text):
        if labels in (match.group(1) or ""):
            total += float(match.group(2))
    return total


def stampede(stack):
    stack.start_gateway(ready=False)  # cold cache: /healthz only, no token fetched yet
    counts, elapsed = asyncio.run(_stampede(stack.gw_port, stack.jwt, STAMPEDE))
    _, metrics = http_get(stack.gw_port, "/metrics")
    text = metrics.decode()
    fetches = metric_value(text, "ecnow_gateway_upstream_token_fetches_total", 'outcome="ok"')
    fetch_errors = metric_value(text, "ecnow_gateway_upstream_token_fetches_total",
                                'outcome="error"')
    hits = metric_value(text, "ecnow_gateway_upstream_token_cache_hits_total")
    log(f"stampede: {STAMPEDE} concurrent requests in {elapsed * 1000:.0f} ms, statuses {counts}, "
        f"token fetches ok={fetches:.0f} error={fetch_errors:.0f}, cache hits {hits:.0f}")
    return {"requests": STAMPEDE, "statuses": counts, "elapsed_ms": elapsed * 1000,
            "token_fetches_ok": int(fetches), "token_fetches_error": int(fetch_errors),
            "token_cache_hits": int(hits)}


# ---------------------------------------------------------------- memory, start-up, batch


def memory(stack):
    stack.start_gateway()
    time.sleep(1.0)
    idle_rss = stack.gateway.status_kib("VmRSS")
    idle_hwm = stack.gateway.status_kib("VmHWM")
    url = f"http://{HOST}:{stack.gw_port}{READ_PATH_GW}"
    result = wrk_run(url, MEM_CONNS, DURATION, auth=stack.jwt,
                     watch=[stack.emulator, stack.gateway])
    peak = stack.gateway.status_kib("VmHWM")
    after_rss = stack.gateway.status_kib("VmRSS")
    log(f"memory: idle RSS {idle_rss / 1024:.1f} MiB, peak (VmHWM) at {MEM_CONNS} connections "
        f"{peak / 1024:.1f} MiB, RSS after {after_rss / 1024:.1f} MiB; "
        f"{result['rps']:.0f} req/s, errors {result['errors']}")
    return {"idle_rss_kib": idle_rss, "idle_hwm_kib": idle_hwm, "peak_hwm_kib": peak,
            "rss_after_kib": after_rss, "connections": MEM_CONNS, "rps": result["rps"],
            "errors": result["errors"], "cpu_pct": result["cpu_pct"]}


def startup(stack):
    times = [stack.start_gateway() for _ in range(STARTS)]
    log(f"start-up to /readyz 200: {', '.join(f'{t:.1f}' for t in times)} ms")
    return {"samples_ms": times, "median_ms": statistics.median(times)}


def post_json(conn, path, body, headers=None):
    conn.request("POST", path, body=body,
                 headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    return response.status, response.read()


def batch(stack):
    chunks = BATCH_TOTAL // BATCH_SIZE
    phones = [f"07{n:09d}" for n in range(BATCH_SIZE)]
    gw_body = json.dumps([{"mobile_phone": p} for p in phones]).encode()
    emu_body = json.dumps([{"dataset": "100", "mobilephone": p} for p in phones]).encode()
    emu_path = stack.emulator_path("create")

    def one(target):
        port = stack.gw_port if target == "gateway" else stack.emu_port
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        created = 0
        cpu = {p.name: p.cpu_seconds() for p in (stack.gateway, stack.emulator)}
        started = time.perf_counter()
        for _ in range(chunks):
            if target == "gateway":
                status, body = post_json(conn, "/datasets/100/records", gw_body,
                                         {"Authorization": f"Bearer {stack.jwt}"})
                answer = json.loads(body)
                if status != 201:
                    raise RuntimeError(f"gateway batch answered {status}: {body[:300]!r}")
                created += answer["created"]
            else:
                status, body = post_json(conn, emu_path, emu_body)
                answer = json.loads(body)
                if status != 200 or not answer.get("success"):
                    raise RuntimeError(f"emulator batch answered {status}: {body[:300]!r}")
                created += int(answer["total"])
        elapsed = time.perf_counter() - started
        for p in (stack.gateway, stack.emulator):
            cpu_us[target][p.name] += 1e6 * (p.cpu_seconds() - cpu[p.name])
        cpu_us[target]["records"] += created
        conn.close()
        if created != chunks * BATCH_SIZE:
            raise RuntimeError(f"{target} batch created {created} of {chunks * BATCH_SIZE}")
        return created / elapsed

    cpu_us = {t: {"gateway": 0.0, "emulator": 0.0, "records": 0} for t in ("direct", "gateway")}

    runs = []
    for i in range(RUNS):
        # Short rounds (tens of ms): alternate the sides and take the median of each.
        samples = {"direct": [], "gateway": []}
        for j in range(BATCH_REPEAT):
            order = ["direct", "gateway"] if (i + j) % 2 == 0 else ["gateway", "direct"]
            for target in order:
                samples[target].append(one(target))
        rates = {t: statistics.median(v) for t, v in samples.items()}
        rates["ratio"] = rates["gateway"] / rates["direct"]
        rates["samples"] = samples
        log(f"batch run {i + 1}: direct {rates['direct']:.0f} rec/s, gateway "
            f"{rates['gateway']:.0f} rec/s, ratio {rates['ratio']:.3f} "
            f"(median of {BATCH_REPEAT} rounds of {chunks * BATCH_SIZE} records each)")
        runs.append(rates)
    per_record = {t: {name: v[name] / max(v["records"], 1) for name in ("gateway", "emulator")}
                  for t, v in cpu_us.items()}
    log(f"batch CPU per record through the gateway: gateway {per_record['gateway']['gateway']:.2f} us, "
        f"emulator {per_record['gateway']['emulator']:.2f} us (direct: emulator "
        f"{per_record['direct']['emulator']:.2f} us)")
    return {"records": chunks * BATCH_SIZE, "batch_size": BATCH_SIZE, "runs": runs,
            "cpu_us_per_record": per_record,
            "direct_rps": statistics.median(r["direct"] for r in runs),
            "gateway_rps": statistics.median(r["gateway"] for r in runs),
            "ratio": statistics.median(r["ratio"] for r in runs)}


# ---------------------------------------------------------------- report


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return {"nproc": NPROC, "cpu_model": model, "loadavg_at_start": open("/proc/loadavg").read().split()[:3], "mem_gib": round(mem_kib / 1048576, 1),
            "kernel": platform.release(), "wrk": wrk_version.strip(),
            "binary": str(BIN), "binary_mtime": time.ctime(BIN.stat().st_mtime)}


def judge(key, value):
    op, target = TARGETS[key]
    ok = {">=": value >= target, "<=": value <= target, "==": value == target}[op]
    return "PASS" if ok else "FAIL"


def bottleneck_notes(runs):
    notes = []
    for scenario in ("read_c64", "create_c64", "read_c1"):
        # The run least disturbed by other processes on the machine speaks for the scenario.
        quiet = min(range(len(runs)), key=lambda i: sum(
            runs[i][scenario][t]["cpu_pct"]["other_processes"] for t in ("direct", "gateway")))
        d, g = runs[quiet][scenario]["direct"], runs[quiet][scenario]["gateway"]
        emu_d, emu_g = d["cpu_pct"]["emulator"], g["cpu_pct"]["emulator"]
        gw = g["cpu_pct"]["gateway"]
        wrk_d, wrk_g = d["cpu_pct"]["wrk"], g["cpu_pct"]["wrk"]
        line = (f"{scenario} (run {quiet + 1}): direct run: emulator {emu_d:.0f}% / wrk {wrk_d:.0f}% of a core; "
                f"gateway run: gateway {gw:.0f}% + emulator {emu_g:.0f}% / wrk {wrk_g:.0f}%; "
                f"CPU per request: gateway {g['cpu_us_per_request']['gateway']:.0f} us, emulator "
                f"{g['cpu_us_per_request']['emulator']:.0f} us.")
        server_cores = (NPROC - 1) if PIN else NPROC
        gw_req = g["cpu_us_per_request"]["gateway"]
        emu_req = g["cpu_us_per_request"]["emulator"]
        if emu_d >= 90:
            line += " Direct run: the emulator is the bottleneck (>=90% of a core)."
        if emu_g >= 90 and emu_g > gw:
            line += " Gateway run: the emulator is the bottleneck (>=90% of a core)."
        elif gw_req > emu_req:
            line += (f" Gateway run: the emulator is not the bottleneck; the gateway spends "
                     f"{gw_req / max(emu_req, 1e-9):.1f}x the emulator's CPU per request.")
        if PIN and gw + emu_g >= 90 * server_cores:
            line += (f" The server CPU ({SERVER_CPUS}) shared by gateway and emulator is "
                     f"saturated.")
        if max(wrk_d, wrk_g) >= 90:
            line += " wrk reached ≥90% of a core: the load generator may limit the figures."
        notes.append(line)
    other = [r[s][t]["cpu_pct"]["other_processes"] for r in runs
             for s in ("read_c64", "read_c1", "create_c64") for t in ("direct", "gateway")]
    notes.append(f"other processes on this machine used {statistics.median(other):.0f}% of a core "
                 f"(median; max {max(other):.0f}%) during the measured load runs"
                 + (": the figures are disturbed by other work, rerun on a quiet machine."
                    if max(other) >= 20 else "."))
    return notes


def main():
    if not BIN.exists():
        sys.exit(f"no binary at {BIN}: build it (bench/run does) or set BENCH_BIN")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    started = time.perf_counter()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in LOG_DIR.glob("*.log"):
        old.unlink()
    info = machine()
    pinning = (f"wrk on CPU {LOADGEN_CPUS}; gateway and emulator on CPU {SERVER_CPUS} (taskset)"
               if PIN else "none (all processes share every CPU)")
    log(f"machine: {info['nproc']} CPUs, {info['cpu_model']}, {info['mem_gib']} GiB; "
        f"pinning: {pinning}; runs {RUNS} x {DURATION}s (+{WARMUP}s warm-up)")
    stack = Stack()
    results = {"machine": info, "config": {
        "runs": RUNS, "duration_s": DURATION, "warmup_s": WARMUP, "connections": CONNS,
        "memory_connections": MEM_CONNS, "stampede_requests": STAMPEDE, "starts": STARTS,
        "batch_records": BATCH_TOTAL, "batch_size": BATCH_SIZE, "pinning": pinning}}
    try:
        stack.start_gateway()
        check_routes(stack)
        runs = []
        for i in range(RUNS):
            log(f"run {i + 1} of {RUNS}")
            order = ["direct", "gateway"] if i % 2 == 0 else ["gateway", "direct"]
            run = {}
            for name, scenario, conns in (("read_c64", "read", CONNS), ("read_c1", "read", 1),
                                          ("create_c64", "create", CONNS)):
                run[name] = {t: measure(stack, scenario, t, conns) for t in order}
            for name in ("read_c64", "create_c64"):
                run[name]["ratio"] = run[name]["gateway"]["rps"] / run[name]["direct"]["rps"]
            for name in ("read_c1", "read_c64"):
                for p in ("p50", "p99"):
                    run[name][f"added_{p}_us"] = (run[name]["gateway"]["latency_us"][p]
                                                  - run[name]["direct"]["latency_us"][p])
            runs.append(run)
        results["runs"] = runs
        med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
        summary = {
            "read_direct_rps": med(lambda r: r["read_c64"]["direct"]["rps"]),
            "read_gateway_rps": med(lambda r: r["read_c64"]["gateway"]["rps"]),
            "read_ratio": med(lambda r: r["read_c64"]["ratio"]),
            "create_direct_rps": med(lambda r: r["create_c64"]["direct"]["rps"]),
            "create_gateway_rps": med(lambda r: r["create_c64"]["gateway"]["rps"]),
            "create_ratio": med(lambda r: r["create_c64"]["ratio"]),
            "gateway_cpu_us_per_read": med(
                lambda r: r["read_c64"]["gateway"]["cpu_us_per_request"]["gateway"]),
            "emulator_cpu_us_per_read": med(
                lambda r: r["read_c64"]["direct"]["cpu_us_per_request"]["emulator"]),
            "gateway_cpu_us_per_create": med(
                lambda r: r["create_c64"]["gateway"]["cpu_us_per_request"]["gateway"]),
            "emulator_cpu_us_per_create": med(
                lambda r: r["create_c64"]["direct"]["cpu_us_per_request"]["emulator"]),
        }
        for c in ("c1", "c64"):
            for p in ("p50", "p99"):
                summary[f"direct_{p}_{c}_us"] = med(lambda r: r[f"read_{c}"]["direct"]["latency_us"][p])
                summary[f"gateway_{p}_{c}_us"] = med(lambda r: r[f"read_{c}"]["gateway"]["latency_us"][p])
                summary[f"added_{p}_{c}_us"] = med(lambda r: r[f"read_{c}"][f"added_{p}_us"])
        results["bottleneck"] = bottleneck_notes(runs)
        results["memory"] = memory(stack)
        results["stampede"] = stampede(stack)
        results["startup"] = startup(stack)
        results["batch"] = batch(stack)
        summary.update({
            "token_fetches": results["stampede"]["token_fetches_ok"]
            + results["stampede"]["token_fetches_error"],
            "peak_rss_mib": results["memory"]["peak_hwm_kib"] / 1024,
            "idle_rss_mib": results["memory"]["idle_rss_kib"] / 1024,
            "startup_ms": results["startup"]["median_ms"],
            "batch_direct_rps": results["batch"]["direct_rps"],
            "batch_gateway_rps": results["batch"]["gateway_rps"],
            "batch_ratio": results["batch"]["ratio"],
            "batch_gateway_cpu_us_per_record":
                results["batch"]["cpu_us_per_record"]["gateway"]["gateway"],
            "batch_emulator_cpu_us_per_record":
                results["batch"]["cpu_us_per_record"]["gateway"]["emulator"],
        })
        refused = {k: v for k, v in results["stampede"]["statuses"].items() if k != "200"}
        if refused:
            results["bottleneck"].append(
                f"stampede: {sum(refused.values())} of {STAMPEDE} cold concurrent requests were "
                f"not answered 200 ({refused}); 503 here is the gateway's upstream concurrency "
                f"cap (CONTACTNOW_MAX_CONCURRENCY, default 256) after waiting "
                f"CONTACTNOW_QUEUE_TIMEOUT_MS (default 1000) for a slot.")
    finally:
        stack.stop()
    results["summary"] = summary
    results["verdicts"] = {key: judge(key, summary[key]) for key in TARGETS}
    results["elapsed_s"] = time.perf_counter() - started
    (OUT_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def print_table(results):
    s, v, m = results["summary"], results["verdicts"], results["machine"]
    n = results["config"]["runs"]
    rows = [
        (f"read throughput ratio, {CONNS} conns (median of {n})",
         f"{s['read_ratio']:.3f}  ({s['read_gateway_rps']:.0f} / {s['read_direct_rps']:.0f} req/s)",
         ">= 0.60", v["read_ratio"]),
        (f"create throughput ratio, {CONNS} conns (median of {n})",
         f"{s['create_ratio']:.3f}  ({s['create_gateway_rps']:.0f} / {s['create_direct_rps']:.0f} req/s)",
         ">= 0.60", v["create_ratio"]),
        (f"CPU per read / create, {CONNS} conns: gateway vs emulator",
         f"{s['gateway_cpu_us_per_read']:.0f} / {s['gateway_cpu_us_per_create']:.0f} us vs "
         f"{s['emulator_cpu_us_per_read']:.0f} / {s['emulator_cpu_us_per_create']:.0f} us",
         "-", "info"),
        (f"added p50, 1 conn (median of {n})",
         f"{s['added_p50_c1_us']:.0f} us  ({s['gateway_p50_c1_us']:.0f} - {s['direct_p50_c1_us']:.0f})",
         "<= 100 us", v["added_p50_c1_us"]),
        ("added p99, 1 conn",
         f"{s['added_p99_c1_us']:.0f} us  ({s['gateway_p99_c1_us']:.0f} - {s['direct_p99_c1_us']:.0f})",
         "-", "info"),
        (f"added p50, {CONNS} conns",
         f"{s['added_p50_c64_us']:.0f} us  ({s['gateway_p50_c64_us']:.0f} - {s['direct_p50_c64_us']:.0f})",
         "-", "info"),
        (f"added p99, {CONNS} conns",
         f"{s['added_p99_c64_us']:.0f} us  ({s['gateway_p99_c64_us']:.0f} - {s['direct_p99_c64_us']:.0f})",
         "-", "info"),
        (f"token fetches, {STAMPEDE} concurrent cold requests",
         f"{s['token_fetches']}  (statuses {results['stampede']['statuses']})", "== 1",
         v["token_fetches"]),
        (f"peak RSS (VmHWM), {MEM_CONNS} conns", f"{s['peak_rss_mib']:.1f} MiB", "<= 40 MiB",
         v["peak_rss_mib"]),
        ("RSS at idle after start", f"{s['idle_rss_mib']:.1f} MiB", "-", "info"),
        (f"start-up to /readyz 200 (median of {STARTS})", f"{s['startup_ms']:.1f} ms", "<= 100 ms",
         v["startup_ms"]),
        (f"batch ratio, {BATCH_TOTAL} records in arrays of {BATCH_SIZE} (median of {n})",
         f"{s['batch_ratio']:.3f}  ({s['batch_gateway_rps']:.0f} / {s['batch_direct_rps']:.0f} rec/s)",
         ">= 0.95", v["batch_ratio"]),
        ("batch CPU per record: gateway vs emulator",
         f"{s['batch_gateway_cpu_us_per_record']:.2f} us vs "
         f"{s['batch_emulator_cpu_us_per_record']:.2f} us", "-", "info"),
    ]
    widths = [max(len(str(r[i])) for r in rows + [("metric", "measured", "target", "")])
              for i in range(4)]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    print()
    print(f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_gib']} GiB, Linux {m['kernel']}; "
          f"{m['wrk']}")
    print(f"pinning: {results['config']['pinning']}; load average at start "
          f"{' '.join(m['loadavg_at_start'])}")
    print()
    print(line(("metric", "measured", "target", "")))
    print(line(tuple("-" * w for w in widths)))
    for row in rows:
        print(line(row))
    print()
    for note in results["bottleneck"]:
        print(f"note: {note}")
    print(f"\nresults: {OUT_DIR / 'results.json'}  (run time {results['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
