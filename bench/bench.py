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
LIST_DATASET = 200  # holds exactly the largest list limit of records (creates go to 100)
TICK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


BIN = Path(os.environ.get("BENCH_BIN") or ROOT / "target" / "release" / "ecnow-gateway")
# The floor: a bare actix-web + reqwest forwarder (bench/forwarder.rs, built by bench/run).
FORWARDER = Path(os.environ.get("BENCH_FORWARDER") or BIN.parent / "examples" / "bare_forwarder")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RUNS = env_int("BENCH_RUNS", 3)
DURATION = env_int("BENCH_DURATION", 5)  # seconds of each measured load run
WARMUP = env_int("BENCH_WARMUP", 1)  # seconds of an unmeasured run before each
CONNS = env_int("BENCH_CONNECTIONS", 32)
SLOW_CONNS = env_int("BENCH_SLOW_CONNECTIONS", 128)  # latency-bound run
SLOW_LATENCY_MS = env_int("BENCH_SLOW_LATENCY_MS", 50)  # the emulator's --latency there
LIST_LIMITS = (100, 1000)
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
    "own_cpu_us_per_read": ("<=", 8.0),  # gateway CPU per read above the bare forwarder's
    "read_cpu_vs_forwarder": ("<=", 1.25),
    "read_cpu_vs_nginx": ("<=", 2.0),
    "list_cpu_us_per_record_100": ("<=", 1.5),
    "list_cpu_us_per_record_1000": ("<=", 1.5),
    "added_p50_c1_us": ("<=", 100.0),
    "slow_ratio": (">=", 0.97),
    "token_fetches": ("==", 1),
    "peak_rss_mib": ("<=", 40.0),
    "startup_ms": ("<=", 100.0),
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


NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {logs}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream emulator {{ server {host}:{emu_port}; keepalive 256; }}
    server {{
        listen {host}:{port};
        client_max_body_size 64m;
        location / {{
            proxy_pass http://emulator;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


class Stack:
    """The emulator, one gateway in front of it, and the floor: nginx `proxy_pass` and the bare
    forwarder in front of the same emulator. `latency_ms` delays every emulator answer."""

    def __init__(self, latency_ms=0, name="emulator"):
        self.emu_port = free_port()
        self.name = name
        self.emulator = Proc(
            name,
            pinned(
                [str(BIN), "emulator", "--listen", f"{HOST}:{self.emu_port}",
                 "--username", "sandbox", "--api-key", "sandbox", "--token-lifetime", "12h",
                 "--latency", f"{latency_ms}ms"],
                SERVER_CPUS,
            ),
            env={**os.environ, "RUST_LOG": "warn"},
        )
        self.forwarder = self.nginx = None
        self.fwd_port = self.nginx_port = None
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

    def start_floor(self):
        """Starts the bare forwarder and nginx in front of the emulator."""
        self.fwd_port = free_port()
        self.forwarder = Proc("forwarder", pinned(
            [str(FORWARDER), f"{HOST}:{self.fwd_port}", f"http://{HOST}:{self.emu_port}"],
            SERVER_CPUS), env={**os.environ})
        conf_dir = OUT_DIR / f"nginx-{self.name}"
        conf_dir.mkdir(parents=True, exist_ok=True)
        self.nginx_port = free_port()
        conf = conf_dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=conf_dir, logs=LOG_DIR, host=HOST,
                                          emu_port=self.emu_port, port=self.nginx_port))
        self.nginx = Proc("nginx", pinned(
            [NGINX, "-p", str(conf_dir), "-c", str(conf), "-e", str(LOG_DIR / "nginx-error.log")],
            SERVER_CPUS))
        for port, what in ((self.fwd_port, "the bare forwarder"), (self.nginx_port, "nginx")):
            wait_until(lambda: tcp_open(port), what)

    def port_of(self, target):
        return {"direct": self.emu_port, "nginx": self.nginx_port, "forwarder": self.fwd_port,
                "gateway": self.gw_port}[target]

    def front(self, target):
        """The process in front of the emulator for `target` (None straight to it)."""
        return {"direct": None, "nginx": self.nginx, "forwarder": self.forwarder,
                "gateway": self.gateway}[target]

    def emulator_path(self, action, extra=""):
        return (f"/ecnow.php?token={self.upstream_token}"
                f"&method=ecnow_records&action={action}&format=json&raw=1{extra}")

    def emulator_url(self, action, extra=""):
        return f"http://{HOST}:{self.emu_port}{self.emulator_path(action, extra)}"

    def stop(self):
        for proc in (self.gateway, self.forwarder, self.nginx, self.emulator):
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


def request_of(stack, scenario, target):
    """(url, method, body, auth) of one scenario for one target: the gateway's REST call, or
    the `ecnow.php` call it stands for, sent straight to the emulator or through the floor."""
    list_limit = scenario.startswith("list") and int(scenario[4:])
    if target == "gateway":
        base, auth = f"http://{HOST}:{stack.gw_port}", stack.jwt
        if scenario == "read":
            return base + READ_PATH_GW, "GET", None, auth
        if list_limit:
            return (base + f"/datasets/{LIST_DATASET}/records?limit={list_limit}", "GET", None,
                    auth)
        return base + "/datasets/100/records", "POST", b'{"mobile_phone":"07123456789"}', auth
    base = f"http://{HOST}:{stack.port_of(target)}"
    if scenario == "read":
        return base + stack.emulator_path("read", "&dataset=100&id=550000&limit=1"), "GET", None, None
    if list_limit:
        return (base + stack.emulator_path("read", f"&dataset={LIST_DATASET}&limit={list_limit}"),
                "GET", None, None)
    body = b'[{"dataset":"100","mobilephone":"07123456789"}]'
    return base + stack.emulator_path("create"), "POST", body, None


def measure(stack, scenario, target, conns):
    """Warm-up then a measured run of one scenario against one target: `direct` (the emulator),
    `nginx` or `forwarder` (the floor) or `gateway`. Adds `front_cpu_us` (CPU per request of
    the process in front of the emulator) and `emulator_cpu_us`."""
    url, method, body, auth = request_of(stack, scenario, target)
    front = stack.front(target)
    watch = [stack.emulator] + ([front] if front else [])
    if WARMUP > 0:
        wrk_run(url, conns, WARMUP, method, body, auth)
    result = wrk_run(url, conns, DURATION, method, body, auth, watch)
    result["front_cpu_us"] = result["cpu_us_per_request"][front.name] if front else 0.0
    result["emulator_cpu_us"] = result["cpu_us_per_request"][stack.emulator.name]
    errors = {k: v for k, v in result["errors"].items() if v}
    log(f"{scenario:8} c={conns:<3} {target:9}: {result['rps']:9.0f} req/s  "
        f"p50 {result['latency_us']['p50']:7.0f} us  p99 {result['latency_us']['p99']:7.0f} us  "
        f"CPU/req front {result['front_cpu_us']:6.1f} us emulator "
        f"{result['emulator_cpu_us']:6.1f} us  "
        f"cpu% {', '.join(f'{k} {v:.0f}' for k, v in result['cpu_pct'].items())}"
        + (f"  errors {errors}" if errors else ""))
    if result["errors"]["status"] or result["requests"] == 0:
        raise RuntimeError(f"{scenario} through {target}: {errors or 'no requests'}")
    return result


def check_routes(stack, lists):
    """One request of each kind and target, checked, before any load; fills LIST_DATASET of
    the `lists` stack with the largest list limit of records first."""
    conn = http.client.HTTPConnection(HOST, lists.emu_port, timeout=30)
    filler = json.dumps([{"dataset": str(LIST_DATASET), "mobilephone": f"07{n:09d}"}
                         for n in range(max(LIST_LIMITS))]).encode()
    status, body = post_json(conn, lists.emulator_path("create"), filler)
    conn.close()
    if status != 200 or not json.loads(body).get("success"):
        raise RuntimeError(f"emulator create answered {status}: {body[:300]!r}")
    for target in ("direct", "nginx", "forwarder", "gateway"):
        for scenario in ("read", "create") + tuple(f"list{n}" for n in LIST_LIMITS):
            on = lists if scenario.startswith("list") else stack
            url, method, body, auth = request_of(on, scenario, target)
            path = url.split(str(on.port_of(target)), 1)[1]
            conn = http.client.HTTPConnection(HOST, on.port_of(target), timeout=30)
            headers = {"Content-Type": "application/json"} if body else {}
            if auth:
                headers["Authorization"] = f"Bearer {auth}"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            conn.close()
            expected = 201 if (target == "gateway" and method == "POST") else 200
            if response.status != expected:
                raise RuntimeError(f"{scenario} through {target} answered {response.status}: "
                                   f"{answer[:300]!r}")
            if scenario.startswith("list"):
                records = (json.loads(answer)["records"] if target == "gateway"
                           else json.loads(answer)["list"])
                if len(records) != int(scenario[4:]):
                    raise RuntimeError(f"{scenario} through {target} gave {len(records)} records")


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


SCENARIOS = (  # (name, scenario, connections, targets); list reads run on their own stack
    ("read_c32", "read", CONNS, ("direct", "nginx", "forwarder", "gateway")),
    ("create_c32", "create", CONNS, ("direct", "forwarder", "gateway")),
    ("read_c1", "read", 1, ("direct", "forwarder", "gateway")),
) + tuple((f"list{n}_c32", f"list{n}", CONNS, ("forwarder", "gateway")) for n in LIST_LIMITS)


def slow():
    """Latency-bound throughput: reads at SLOW_CONNS connections against an emulator that
    answers after SLOW_LATENCY_MS, straight and through a gateway with default settings."""
    stack = Stack(latency_ms=SLOW_LATENCY_MS, name="slow-emulator")
    try:
        stack.start_gateway()
        runs = []
        for i in range(RUNS):
            order = ["direct", "gateway"] if i % 2 == 0 else ["gateway", "direct"]
            run = {t: measure(stack, "read", t, SLOW_CONNS) for t in order}
            run["ratio"] = run["gateway"]["rps"] / run["direct"]["rps"]
            runs.append(run)
    finally:
        stack.stop()
    ratio = statistics.median(r["ratio"] for r in runs)
    log(f"latency-bound ({SLOW_LATENCY_MS} ms upstream, {SLOW_CONNS} conns): ratio {ratio:.3f}")
    return {"runs": runs, "ratio": ratio,
            "direct_rps": statistics.median(r["direct"]["rps"] for r in runs),
            "gateway_rps": statistics.median(r["gateway"]["rps"] for r in runs)}


def summarize(runs):
    """Medians over the runs of every figure the table shows."""
    med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
    cpu = lambda name, target: med(lambda r: r[name][target]["front_cpu_us"])  # noqa: E731
    s = {}
    for target in ("nginx", "forwarder", "gateway"):
        s[f"{target}_cpu_us_per_read"] = cpu("read_c32", target)
        s[f"{target}_rps_read"] = med(lambda r: r["read_c32"][target]["rps"])
    s["direct_rps_read"] = med(lambda r: r["read_c32"]["direct"]["rps"])
    s["emulator_cpu_us_per_read"] = med(lambda r: r["read_c32"]["direct"]["emulator_cpu_us"])
    s["own_cpu_us_per_read"] = med(lambda r: r["read_c32"]["gateway"]["front_cpu_us"]
                                   - r["read_c32"]["forwarder"]["front_cpu_us"])
    s["read_cpu_vs_forwarder"] = med(lambda r: r["read_c32"]["gateway"]["front_cpu_us"]
                                     / r["read_c32"]["forwarder"]["front_cpu_us"])
    s["read_cpu_vs_nginx"] = med(lambda r: r["read_c32"]["gateway"]["front_cpu_us"]
                                 / r["read_c32"]["nginx"]["front_cpu_us"])
    for target in ("forwarder", "gateway"):
        s[f"{target}_cpu_us_per_create"] = cpu("create_c32", target)
        s[f"{target}_rps_create"] = med(lambda r: r["create_c32"][target]["rps"])
    s["direct_rps_create"] = med(lambda r: r["create_c32"]["direct"]["rps"])
    s["own_cpu_us_per_create"] = med(lambda r: r["create_c32"]["gateway"]["front_cpu_us"]
                                     - r["create_c32"]["forwarder"]["front_cpu_us"])
    for n in LIST_LIMITS:
        name = f"list{n}_c32"
        s[f"list_cpu_us_per_record_{n}"] = med(lambda r: r[name]["gateway"]["front_cpu_us"] / n)
        s[f"list_own_cpu_us_per_record_{n}"] = med(
            lambda r: (r[name]["gateway"]["front_cpu_us"] - r[name]["forwarder"]["front_cpu_us"]) / n)
        s[f"list_forwarder_cpu_us_per_record_{n}"] = med(
            lambda r: r[name]["forwarder"]["front_cpu_us"] / n)
        s[f"list_emulator_cpu_us_per_record_{n}"] = med(
            lambda r: r[name]["forwarder"]["emulator_cpu_us"] / n)
    for target in ("direct", "forwarder", "gateway"):
        for p in ("p50", "p99"):
            s[f"{target}_{p}_c1_us"] = med(lambda r: r["read_c1"][target]["latency_us"][p])
    for p in ("p50", "p99"):
        s[f"added_{p}_c1_us"] = med(lambda r: r["read_c1"]["gateway"]["latency_us"][p]
                                    - r["read_c1"]["direct"]["latency_us"][p])
    return s


def other_work_note(runs):
    other = [result["cpu_pct"]["other_processes"] for run in runs for name, *_ in SCENARIOS
             for result in run[name].values()]
    return (f"other processes on this machine used {statistics.median(other):.0f}% of a core "
            f"(median; max {max(other):.0f}%) during the measured load runs"
            + (": the figures are disturbed by other work, rerun on a quiet machine."
               if max(other) >= 20 else "."))


def main():
    for path, what in ((BIN, "the gateway"), (FORWARDER, "the bare forwarder")):
        if not path.exists():
            sys.exit(f"no binary at {path} ({what}): bench/run builds it")
    for tool in ("wrk", NGINX):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (apt-get install wrk nginx-light)")
    started = time.perf_counter()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in LOG_DIR.glob("*.log"):
        old.unlink()
    info = machine()
    pinning = (f"wrk on CPU {LOADGEN_CPUS}; the servers on CPU {SERVER_CPUS} (taskset)"
               if PIN else "none (all processes share every CPU)")
    log(f"machine: {info['nproc']} CPUs, {info['cpu_model']}, {info['mem_gib']} GiB; "
        f"pinning: {pinning}; runs {RUNS} x {DURATION}s (+{WARMUP}s warm-up)")
    stack = Stack()
    # List reads get an emulator of their own, whose store holds only their records: the
    # emulator scans its whole store per read, and the create runs fill the main one.
    lists = Stack(name="list-emulator")
    results = {"machine": info, "config": {
        "runs": RUNS, "duration_s": DURATION, "warmup_s": WARMUP, "connections": CONNS,
        "slow_connections": SLOW_CONNS, "slow_latency_ms": SLOW_LATENCY_MS,
        "memory_connections": MEM_CONNS, "stampede_requests": STAMPEDE, "starts": STARTS,
        "batch_records": BATCH_TOTAL, "batch_size": BATCH_SIZE, "pinning": pinning}}
    try:
        for each in (stack, lists):
            each.start_gateway()
            each.start_floor()
        check_routes(stack, lists)
        runs = []
        for i in range(RUNS):
            log(f"run {i + 1} of {RUNS}")
            run = {}
            for name, scenario, conns, targets in SCENARIOS:
                # Rotate the order from run to run, so no target always goes first.
                order = targets[i % len(targets):] + targets[:i % len(targets)]
                on = lists if scenario.startswith("list") else stack
                run[name] = {t: measure(on, scenario, t, conns) for t in order}
            runs.append(run)
        results["runs"] = runs
        summary = summarize(runs)
        results["notes"] = [other_work_note(runs)]
        results["memory"] = memory(stack)
        results["stampede"] = stampede(stack)
        results["startup"] = startup(stack)
        results["batch"] = batch(stack)
    finally:
        stack.stop()
        lists.stop()
    results["slow"] = slow()
    summary.update({
        "slow_ratio": results["slow"]["ratio"],
        "slow_direct_rps": results["slow"]["direct_rps"],
        "slow_gateway_rps": results["slow"]["gateway_rps"],
        "token_fetches": results["stampede"]["token_fetches_ok"]
        + results["stampede"]["token_fetches_error"],
        "peak_rss_mib": results["memory"]["peak_hwm_kib"] / 1024,
        "idle_rss_mib": results["memory"]["idle_rss_kib"] / 1024,
        "startup_ms": results["startup"]["median_ms"],
        "batch_direct_rps": results["batch"]["direct_rps"],
        "batch_gateway_rps": results["batch"]["gateway_rps"],
        "batch_gateway_cpu_us_per_record":
            results["batch"]["cpu_us_per_record"]["gateway"]["gateway"],
        "batch_emulator_cpu_us_per_record":
            results["batch"]["cpu_us_per_record"]["gateway"]["emulator"],
    })
    refused = {k: v for k, v in results["stampede"]["statuses"].items() if k != "200"}
    if refused:
        results["notes"].append(
            f"stampede: {sum(refused.values())} of {STAMPEDE} cold concurrent requests were "
            f"not answered 200 ({refused}); 503 here is the gateway's upstream concurrency "
            f"cap (CONTACTNOW_MAX_CONCURRENCY, default 256) after waiting "
            f"CONTACTNOW_QUEUE_TIMEOUT_MS (default 1000) for a slot.")
    results["summary"] = summary
    results["verdicts"] = {key: judge(key, summary[key]) for key in TARGETS}
    results["elapsed_s"] = time.perf_counter() - started
    (OUT_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def print_table(results):
    s, v, m = results["summary"], results["verdicts"], results["machine"]
    n = results["config"]["runs"]
    rows = [
        (f"read by id, {CONNS} conns: CPU per request of nginx / forwarder / gateway",
         f"{s['nginx_cpu_us_per_read']:.1f} / {s['forwarder_cpu_us_per_read']:.1f} / "
         f"{s['gateway_cpu_us_per_read']:.1f} us (emulator {s['emulator_cpu_us_per_read']:.1f})",
         "-", "info"),
        ("  req/s direct / nginx / forwarder / gateway",
         f"{s['direct_rps_read']:.0f} / {s['nginx_rps_read']:.0f} / "
         f"{s['forwarder_rps_read']:.0f} / {s['gateway_rps_read']:.0f}", "-", "info"),
        ("  gateway's own CPU per read above the forwarder",
         f"{s['own_cpu_us_per_read']:.1f} us", "<= 8 us", v["own_cpu_us_per_read"]),
        ("  gateway CPU per read / forwarder's", f"{s['read_cpu_vs_forwarder']:.2f}x",
         "<= 1.25x", v["read_cpu_vs_forwarder"]),
        ("  gateway CPU per read / nginx's", f"{s['read_cpu_vs_nginx']:.2f}x", "<= 2.0x",
         v["read_cpu_vs_nginx"]),
        (f"create, {CONNS} conns: CPU per request forwarder / gateway (own)",
         f"{s['forwarder_cpu_us_per_create']:.1f} / {s['gateway_cpu_us_per_create']:.1f} us "
         f"({s['own_cpu_us_per_create']:.1f})", "-", "info"),
        ("  req/s direct / forwarder / gateway",
         f"{s['direct_rps_create']:.0f} / {s['forwarder_rps_create']:.0f} / "
         f"{s['gateway_rps_create']:.0f}", "-", "info"),
    ]
    for limit in LIST_LIMITS:
        rows.append((f"list read limit {limit}: gateway CPU per record (own above forwarder)",
                     f"{s[f'list_cpu_us_per_record_{limit}']:.2f} us "
                     f"({s[f'list_own_cpu_us_per_record_{limit}']:.2f}; forwarder "
                     f"{s[f'list_forwarder_cpu_us_per_record_{limit}']:.2f}, emulator "
                     f"{s[f'list_emulator_cpu_us_per_record_{limit}']:.2f})",
                     "<= 1.5 us", v[f"list_cpu_us_per_record_{limit}"]))
    rows += [
        ("added p50, 1 conn (gateway - direct)",
         f"{s['added_p50_c1_us']:.0f} us  ({s['gateway_p50_c1_us']:.0f} - {s['direct_p50_c1_us']:.0f};"
         f" forwarder {s['forwarder_p50_c1_us']:.0f})", "<= 100 us", v["added_p50_c1_us"]),
        ("added p99, 1 conn",
         f"{s['added_p99_c1_us']:.0f} us  ({s['gateway_p99_c1_us']:.0f} - {s['direct_p99_c1_us']:.0f})",
         "-", "info"),
        (f"latency-bound: {SLOW_LATENCY_MS} ms upstream, {SLOW_CONNS} conns, gateway / direct",
         f"{s['slow_ratio']:.3f}  ({s['slow_gateway_rps']:.0f} / {s['slow_direct_rps']:.0f} req/s)",
         ">= 0.97", v["slow_ratio"]),
        (f"token fetches, {STAMPEDE} concurrent cold requests",
         f"{s['token_fetches']}  (statuses {results['stampede']['statuses']})", "== 1",
         v["token_fetches"]),
        (f"peak RSS (VmHWM), {MEM_CONNS} conns", f"{s['peak_rss_mib']:.1f} MiB", "<= 40 MiB",
         v["peak_rss_mib"]),
        ("RSS at idle after start", f"{s['idle_rss_mib']:.1f} MiB", "-", "info"),
        (f"start-up to /readyz 200 (median of {STARTS})", f"{s['startup_ms']:.1f} ms", "<= 100 ms",
         v["startup_ms"]),
        (f"batch, {BATCH_TOTAL} records in arrays of {BATCH_SIZE}: gateway / direct",
         f"{s['batch_gateway_rps']:.0f} / {s['batch_direct_rps']:.0f} rec/s", "-", "info"),
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
          f"{' '.join(m['loadavg_at_start'])}; medians of {n} runs")
    print()
    print(line(("metric", "measured", "target", "")))
    print(line(tuple("-" * w for w in widths)))
    for row in rows:
        print(line(row))
    print()
    for note in results["notes"]:
        print(f"note: {note}")
    print(f"\nresults: {OUT_DIR / 'results.json'}  (run time {results['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
