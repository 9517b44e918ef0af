#!/usr/bin/python3
"""switchboardd as a service, tried as an operator's tools would (issue 17).

A real server, started as systemd would start it (NOTIFY_SOCKET and
WATCHDOG_USEC pointing at this script's own datagram socket), with
--metrics-address and --log-format json:

  1. it tells systemd READY=1 once it listens, and pings the watchdog;
  2. /healthz and /readyz answer 200; an unknown path 404;
  3. under load (clients writing and reading on other threads), /metrics is
     scraped and parsed by Debian's python3-prometheus-client, and the
     counters move by what was asked (requests and errors per method,
     commits, connections, bytes);
  4. every log line is one JSON object; a successful write is one info line
     with its token id, org, method, ids and seq; no token secret anywhere;
  5. SIGHUP under load reloads the config file (log level, a limit), logs
     what changed and what needs a restart, says RELOADING=1 then READY=1,
     and every request in flight is answered; a broken file changes nothing;
  6. SIGPIPE does not kill it;
  7. sbctl server health exits 0 when ready, 1 when the server is stopped
     (SIGSTOP: no answer within its 5 s) and when there is none;
  8. SIGTERM: STOPPING=1, and a clean exit (0).

usage: ops_service.py SWITCHBOARDD SBCTL
Prints "N passed, N failed" and exits 1 on any failure.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from rpc_conn import Conn
from prometheus_client.parser import text_string_to_metric_families

SERVER, SBCTL = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)
    return ok


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port):
    status, text = http_get(port, "/metrics")
    values = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name,) + tuple(sorted(s.labels.items()))
            values[key] = s.value
    return status, text, values


def metric(values, name, **labels):
    return values.get((name,) + tuple(sorted(labels.items())), 0)


work = tempfile.mkdtemp(prefix="sbops.")
data_dir = os.path.join(work, "data")
os.mkdir(data_dir, 0o700)
sock_path = os.path.join(data_dir, "switchboard.sock")
log_path = os.path.join(work, "server.log")
config_path = os.path.join(work, "switchboardd.json")
with open(config_path, "w") as f:
    json.dump({"log_level": "info", "max_inflight": 64}, f)

notify_path = os.path.join(work, "notify.sock")
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(notify_path)
notify.settimeout(0.2)
notices = []


def read_notices():
    while True:
        try:
            notices.append(notify.recv(4096).decode())
        except socket.timeout:
            return


def wait_notice(pattern, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        read_notices()
        if any(re.search(pattern, n) for n in notices):
            return True
    return False


def log_lines():
    with open(log_path, "rb") as f:
        return f.read().decode(errors="replace").splitlines()


# A plugin directory of its own, so that SIGHUP can be seen to read it again:
# every adapter of the build but one, which comes later.
plugin_dir = os.path.join(work, "plugins")
os.mkdir(plugin_dir)
built_plugins = os.path.join(os.path.dirname(os.path.abspath(SERVER)), "..", "plugins")
LATE_PLUGIN = "ringcentral.so"
for name in os.listdir(built_plugins):
    if name.endswith(".so") and name != LATE_PLUGIN:
        shutil.copy(os.path.join(built_plugins, name), plugin_dir)

env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="400000")
env.pop("WATCHDOG_PID", None)
env.pop("JOURNAL_STREAM", None)
log = open(log_path, "wb")
server = subprocess.Popen([SERVER, "--data-dir", data_dir, "--config", config_path,
                           "--metrics-address", "127.0.0.1:0", "--log-format", "json",
                           "--plugin-dir", plugin_dir],
                          stdout=log, stderr=log, env=env)
try:
    # 1. READY=1 once listening, and the watchdog's pings.
    check(wait_notice(r"READY=1"), "READY=1 is sent: %r" % notices)
    check(os.path.exists(sock_path), "the socket exists by the time READY=1 is sent")
    check(wait_notice(r"WATCHDOG=1", 5), "the watchdog is pinged with WATCHDOG_USEC set")
    token = open(os.path.join(data_dir, "admin.token")).read().strip()
    port = 0
    for line in log_lines():
        m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
        if m:
            port = int(m.group(1))
    check(port > 0, "the log names the metrics port")

    # 2. Health.
    check(http_get(port, "/healthz") == (200, "ok\n"), "/healthz answers 200")
    status, body = http_get(port, "/readyz")
    check(status == 200 and body == "ready\n", "/readyz answers 200 ready: %r" % ((status, body),))
    check(http_get(port, "/nope")[0] == 404, "an unknown path is 404")

    status, _, before = scrape(port)
    check(status == 200, "/metrics answers 200")

    # 3. Load: writers and readers on other threads while scraping.
    N_ORGS, N_GETS = 40, 60
    errors = []

    def writer(k):
        c = Conn(sock_path, token)
        for i in range(N_ORGS // 4):
            err, _ = c.call("org.create", {"org": "org%d_%d" % (k, i), "name": "Org %d %d" % (k, i)})
            if err is not None:
                errors.append(err)
        c.close()

    def reader():
        c = Conn(sock_path, token)
        for _ in range(N_GETS):
            err, _ = c.call("org.get", {"org": "missing"})
            if err is None or err.get("name") != "NOT_FOUND":
                errors.append(err)
        c.close()

    def adapter_calls():
        c = Conn(sock_path, token)
        for _ in range(N_TEMPLATES):
            err, _ = c.call("callcenter.template", {"adapter": "demo"})
            if err is not None:
                errors.append(err)
        c.close()

    N_TEMPLATES = 5
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=adapter_calls))
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    mid_status, mid_text, _ = scrape(port)  # a scrape while loaded parses too
    for t in threads:
        t.join()
    check(not errors, "every request of the load is answered as expected: %r" % errors[:3])
    check(mid_status == 200, "a scrape under load answers")
    time.sleep(1.2)  # the once-a-second gauges
    status, text, after = scrape(port)
    check(status == 200, "a scrape after the load answers")

    def moved(name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)

    check(moved("switchboard_requests_total", method="org.create") == N_ORGS,
          "requests_total{org.create} moved by %d: %r" %
          (N_ORGS, moved("switchboard_requests_total", method="org.create")))
    check(moved("switchboard_request_errors_total", method="org.get", error="NOT_FOUND") == N_GETS,
          "request_errors_total{org.get,NOT_FOUND} moved by %d" % N_GETS)
    check(moved("switchboard_request_duration_seconds_count", method="org.create") == N_ORGS,
          "the org.create latency histogram counts each write")
    check(metric(after, "switchboard_request_duration_seconds_bucket", method="org.create",
                 le="+Inf") == metric(after, "switchboard_request_duration_seconds_count",
                                      method="org.create"),
          "the +Inf bucket holds every observation")
    check(moved("switchboard_request_loop_seconds_count", method="org.get") == N_GETS,
          "the org.get loop-time histogram counts each read")
    check(moved("switchboard_writer_writes_total") >= N_ORGS and
          0 < moved("switchboard_writer_commits_total") <= N_ORGS,
          "the writer's commits hold the writes (%r commits)" %
          moved("switchboard_writer_commits_total"))
    check(moved("switchboard_connections_opened_total") == 6, "6 connections opened")
    check(moved("switchboard_plugin_call_seconds_count", adapter="demo") == N_TEMPLATES and
          metric(after, "switchboard_plugin_call_seconds_bucket", adapter="demo", le="+Inf") ==
          metric(after, "switchboard_plugin_call_seconds_count", adapter="demo"),
          "the demo adapter's calls are counted: %r" %
          moved("switchboard_plugin_call_seconds_count", adapter="demo"))
    check(metric(after, "switchboard_connections_open") >= 0 and
          metric(after, "switchboard_connections_open") <= 1, "they are closed again")
    check(moved("switchboard_received_bytes_total") > 0 and
          moved("switchboard_sent_bytes_total") > 0, "bytes in and out move")
    check(metric(after, "switchboard_changes_last_seq") >= moved("switchboard_writer_commits_total")
          > 0, "the change log's last seq: one per commit")
    check(metric(after, "switchboard_store_map_max_bytes") > 0 and
          metric(after, "switchboard_store_readers_max") > 0, "the store's map and readers")
    check(metric(after, "switchboard_plugin_up", adapter="demo", mode="isolated") == 1,
          "the demo adapter is up")
    check(metric(after, "switchboard_ready") == 1 and metric(after, "switchboard_writer_up") == 1,
          "ready and writer up")
    check("# TYPE switchboard_request_duration_seconds histogram" in text, "histogram TYPE lines")

    # 4. The log: one JSON object a line; the writes; no secret.
    lines = log_lines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            check(False, "a log line is not JSON: %r" % line[:200])
    check(all({"ts", "level", "msg"} <= set(p) for p in parsed), "every line has ts, level, msg")
    writes = [p for p in parsed if p.get("msg") == "write: org.create"]
    check(len(writes) == N_ORGS, "one info line per write: %d" % len(writes))
    w = writes[0] if writes else {}
    check(w.get("level") == "info" and w.get("method") == "org.create" and
          w.get("org", "").startswith("org") and w.get("token") and
          int(w.get("seq", "0")) > 0, "a write's line names token, org, method, seq: %r" % w)
    check(not any(token in line for line in lines), "the admin token's secret is in no line")
    check(not any(p.get("msg", "").endswith("-> OK") or "authenticated as" in p.get("msg", "")
                  or ": closed:" in p.get("msg", "") for p in parsed if p["level"] == "info"),
          "reads, authentications and closes are not logged at info")

    # 5. SIGHUP under load: a slow stream of requests goes on throughout.
    stop = threading.Event()
    load_errors, answered = [], [0]

    def steady():
        c = Conn(sock_path, token)
        while not stop.is_set():
            err, _ = c.call("server.info", {})
            if err is not None:
                load_errors.append(err)
            answered[0] += 1
            time.sleep(0.005)
        c.close()

    t = threading.Thread(target=steady)
    t.start()
    with open(config_path, "w") as f:
        json.dump({"log_level": "debug", "max_inflight": 32, "max_batch": 500}, f)
    shutil.copy(os.path.join(built_plugins, LATE_PLUGIN), plugin_dir)
    notices.clear()
    server.send_signal(signal.SIGHUP)
    check(wait_notice(r"RELOADING=1"), "RELOADING=1 on SIGHUP")
    check(wait_notice(r"READY=1"), "READY=1 after the reload")
    time.sleep(0.3)
    with open(config_path, "w") as f:
        f.write("{ not json")
    server.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    # 6. SIGPIPE is ignored.
    server.send_signal(signal.SIGPIPE)
    time.sleep(0.3)
    count = answered[0]
    time.sleep(0.3)
    stop.set()
    t.join()
    check(server.poll() is None, "the server runs on after SIGHUP and SIGPIPE")
    check(not load_errors and answered[0] > count, "requests are answered throughout: %d, %r" %
          (answered[0], load_errors[:2]))
    parsed = [json.loads(line) for line in log_lines()]
    reload = [p for p in parsed if p["msg"].startswith("SIGHUP: settings reloaded")]
    check(reload and "--log-level info -> debug" in reload[0]["msg"] and
          "--max-inflight 64 -> 32" in reload[0]["msg"],
          "the reload names what changed: %r" % reload)
    check(any(p["msg"].startswith("SIGHUP: these settings changed but apply only after a restart")
              and "max-batch" in p["msg"] for p in parsed), "and what needs a restart")
    check(any(p["msg"].startswith("SIGHUP: nothing reloaded") for p in parsed),
          "a broken config file changes nothing, and says so")
    # The plugin directory was read again: the adapter copied in before the
    # first SIGHUP is loaded now, and the log says so (the adapters load on
    # the pool, then the views follow on the writer: give it time).
    deadline = time.time() + 20
    while time.time() < deadline and not any(
            "SIGHUP: plugins reloaded from" in line for line in log_lines()):
        time.sleep(0.1)
    parsed = [json.loads(line) for line in log_lines()]
    c = Conn(sock_path, token)
    err, listed = c.call("plugin.list", {})
    c.close()
    late = [p for p in (listed or {}).get("plugins", []) if p.get("file") == LATE_PLUGIN]
    check(err is None and late and late[0].get("state") == "loaded",
          "SIGHUP loads an adapter added to the plugin directory: %r %r" % (err, late))
    check(any(p["msg"].startswith("SIGHUP: plugins reloaded from") for p in parsed),
          "and logs the reload")
    c = Conn(sock_path, token)
    err, _ = c.call("org.get", {"org": "org0_0"})
    c.close()
    time.sleep(0.1)
    parsed = [json.loads(line) for line in log_lines()]
    check(any(p["level"] == "debug" for p in parsed), "the new log level applies (debug lines)")

    # 7. sbctl server health.
    health = [SBCTL, "--data-dir", data_dir, "server", "health"]
    r = subprocess.run(health, capture_output=True, timeout=30)
    check(r.returncode == 0, "sbctl server health exits 0 when ready: %r" % (r,))
    server.send_signal(signal.SIGSTOP)
    started = time.time()
    r = subprocess.run(health, capture_output=True, timeout=30)
    server.send_signal(signal.SIGCONT)
    check(r.returncode == 1 and time.time() - started < 15,
          "sbctl server health exits 1 when the server does not answer: %r" % (r.returncode,))

    # 8. SIGTERM.
    notices.clear()
    server.send_signal(signal.SIGTERM)
    check(wait_notice(r"STOPPING=1"), "STOPPING=1 on SIGTERM")
    check(server.wait(timeout=30) == 0, "a clean exit")
    r = subprocess.run(health, capture_output=True, timeout=30)
    check(r.returncode == 1, "sbctl server health exits 1 with no server: %r" % (r.returncode,))
finally:
    if server.poll() is None:
        server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait()
    log.close()
    if failed:
        print("server log:", log_path, file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
