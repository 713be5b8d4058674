#!/usr/bin/env python3
"""Import throughput and memory of ecnow-gateway against its emulator (standard library only).

Starts `ecnow-gateway emulator --latency L` and `ecnow-gateway serve` on free loopback ports,
uploads a generated CSV of IMPORT_ROWS rows as one import, follows it to the end and reports:

- rows/s while sending (from the 202 to the final state), against the ceiling
  chunk_rows x concurrency / latency (each chunk costs at least one upstream round trip);
- the upload-and-validate time;
- the gateway's RSS before, and its peak (VmHWM) after, from /proc/PID/status.

Settings (environment): BENCH_BIN (default target/release/ecnow-gateway; build it yourself with
`cargo build --release --locked`), IMPORT_ROWS (100000), IMPORT_LATENCY_MS (50),
GATEWAY_IMPORT_CHUNK_ROWS (500), GATEWAY_IMPORT_CONCURRENCY (2). Writes
target/bench/imports.json. Every load goes to 127.0.0.1 and is bounded by IMPORT_ROWS.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789-abcdefghijklmnopq"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU time of a process so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def request(port, method, path, token, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    conn.request(method, path, body=body, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data else None


def wait_ready(port, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("the gateway never became ready")


def write_csv(path, rows):
    with open(path, "w", newline="") as out:
        out.write("first_name,last_name,mobile_phone,postcode,notes,company_name\r\n")
        for row in range(1, rows + 1):
            out.write(
                f"Lead {row},Surname {row},07{row:09d},EC1A 1BB,"
                f"\"Imported by the bench, row {row}; call after 5pm\",Bench Ltd\r\n"
            )


def main():
    binary = os.environ.get("BENCH_BIN", str(ROOT / "target/release/ecnow-gateway"))
    rows = int(os.environ.get("IMPORT_ROWS", "100000"))
    latency_ms = int(os.environ.get("IMPORT_LATENCY_MS", "50"))
    chunk_rows = int(os.environ.get("GATEWAY_IMPORT_CHUNK_ROWS", "500"))
    concurrency = int(os.environ.get("GATEWAY_IMPORT_CONCURRENCY", "2"))
    if not Path(binary).exists():
        sys.exit(f"{binary} is missing: cargo build --release --locked, or set BENCH_BIN")

    emulator_port, gateway_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "CONTACTNOW_"))}
    env.update(
        GATEWAY_JWT_HS256_SECRET=SECRET,
        GATEWAY_IMPORT_CHUNK_ROWS=str(chunk_rows),
        GATEWAY_IMPORT_CONCURRENCY=str(concurrency),
        RUST_LOG="warn",
    )
    emulator = subprocess.Popen(
        [binary, "emulator", "--listen", f"127.0.0.1:{emulator_port}", "--latency", f"{latency_ms}ms"],
        stdout=subprocess.DEVNULL,
        env=env,
    )
    gateway = subprocess.Popen(
        [binary, "serve"],
        stdout=subprocess.DEVNULL,
        env={
            **env,
            "GATEWAY_LISTEN": f"127.0.0.1:{gateway_port}",
            "CONTACTNOW_BASE_URL": f"http://127.0.0.1:{emulator_port}/",
            "CONTACTNOW_USERNAME": "sandbox",
            "CONTACTNOW_API_KEY": "sandbox",
        },
    )
    try:
        wait_ready(gateway_port)
        token = subprocess.run(
            [binary, "token", "--sub", "bench-import"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "leads.csv"
            write_csv(csv_path, rows)
            body = csv_path.read_bytes()
        upload_bytes = len(body)
        rss_before = rss_kib(gateway.pid, "VmRSS")
        cpu_before = cpu_seconds(gateway.pid)
        started = time.time()
        status, created = request(
            gateway_port, "POST", "/datasets/100/imports", token, body, {"Content-Type": "text/csv"}
        )
        del body
        if status != 202:
            sys.exit(f"upload answered {status}: {created}")
        validated = time.time()
        import_id = created["id"]
        while True:
            _, state = request(gateway_port, "GET", f"/imports/{import_id}", token)
            if state["state"] not in ("validating", "sending"):
                break
            time.sleep(0.2)
        ended = time.time()
        peak = rss_kib(gateway.pid, "VmHWM")
        cpu_used = cpu_seconds(gateway.pid) - cpu_before
    finally:
        gateway.terminate()
        emulator.terminate()
        gateway.wait(timeout=40)
        emulator.wait(timeout=10)

    sending = max(ended - validated, 1e-9)
    rate = state["sent"] / sending
    ceiling = chunk_rows * concurrency / (latency_ms / 1000) if latency_ms else float("inf")
    result = {
        "rows": rows,
        "upload_bytes": upload_bytes,
        "latency_ms": latency_ms,
        "chunk_rows": chunk_rows,
        "concurrency": concurrency,
        "state": state["state"],
        "created": state["created"],
        "upload_and_validate_s": round(validated - started, 3),
        "sending_s": round(sending, 3),
        "rows_per_s": round(rate),
        "ceiling_rows_per_s": ceiling if ceiling != float("inf") else None,
        "share_of_ceiling": round(rate / ceiling, 3) if ceiling != float("inf") else None,
        "rss_before_kib": rss_before,
        "rss_peak_kib": peak,
        "rss_added_mib": round((peak - rss_before) / 1024, 1),
        "gateway_cpu_s": round(cpu_used, 3),
        "gateway_cpu_us_per_row": round(cpu_used / max(rows, 1) * 1e6, 2),
    }
    out = ROOT / "target/bench/imports.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'rows':<28}{rows} ({upload_bytes / 1048576:.1f} MiB)")
    print(f"{'state / created':<28}{state['state']} / {state['created']}")
    print(f"{'upload + validate':<28}{result['upload_and_validate_s']} s")
    print(f"{'sending':<28}{result['sending_s']} s")
    print(f"{'rows/s':<28}{result['rows_per_s']}")
    if result["ceiling_rows_per_s"]:
        print(f"{'ceiling (chunk x conc / lat)':<28}{round(ceiling)}  ({result['share_of_ceiling']:.0%})")
    print(f"{'RSS before / peak':<28}{rss_before // 1024} MiB / {peak // 1024} MiB (+{result['rss_added_mib']} MiB)")
    print(f"{'gateway CPU':<28}{result['gateway_cpu_s']} s ({result['gateway_cpu_us_per_row']} µs per row, upload to end)")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
