"""Plumbing of the compatibility run: the `saturn standalone` process, running the kit's clients and
the `saturn` CLI, reading their JSON lines, recording check results per flow, and the delivery
check most flows share.

Python standard library only (the run must work on a machine with just python3).
"""
import json
import os
import re
import signal
import subprocess
import threading
import time

READY = re.compile(r"saturn standalone ready namesrv=(\S+) broker=(\S+)")


class HarnessError(Exception):
    """Something the harness itself could not do (server did not start, tool missing)."""


class Server:
    """One `saturn standalone` process on free ports (port 0) over a data dir that outlives it."""

    def __init__(self, saturn, data_dir, log_dir):
        self.saturn = saturn
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.proc = None
        self.namesrv = None
        self.broker = None
        self.starts = 0
        self.log_path = None

    def start(self, ready_timeout=60.0):
        """Starts the server and waits for its ready line; sets `namesrv` and `broker`."""
        self.starts += 1
        self.log_path = os.path.join(self.log_dir, "saturn-standalone-%d.log" % self.starts)
        env = dict(os.environ)
        env.setdefault("RUST_LOG", os.environ.get("COMPAT_SATURN_LOG", "info"))
        log = open(self.log_path, "wb")
        cmd = [self.saturn, "standalone", "--data-dir", self.data_dir,
               "--namesrv-listen", "127.0.0.1:0", "--broker-listen", "127.0.0.1:0"]
        # COMPAT_FLUSH=sync runs the flows against a sync-flush broker (sends answered once on disk).
        if os.environ.get("COMPAT_FLUSH"):
            cmd += ["--flush", os.environ["COMPAT_FLUSH"]]
        # Own session: a Ctrl-C on the terminal reaches the harness, which stops the server itself.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env,
                                     start_new_session=True)
        log.close()
        found = {}
        reader = threading.Thread(target=self._read_stdout, args=(found,), daemon=True)
        reader.start()
        deadline = time.time() + ready_timeout
        while time.time() < deadline and "ready" not in found and self.proc.poll() is None:
            time.sleep(0.05)
        if "ready" not in found:
            code = self.proc.poll()
            self.kill()
            raise HarnessError("saturn standalone gave no ready line (exit code %s); log: %s"
                               % (code, self.log_path))
        self.namesrv, self.broker = found["ready"]

    def _read_stdout(self, found):
        # Keeps draining stdout after the ready line so the server never blocks on a full pipe.
        with open(self.log_path + ".stdout", "wb") as out:
            for raw in self.proc.stdout:
                out.write(raw)
                out.flush()
                m = READY.search(raw.decode("utf-8", "replace"))
                if m and "ready" not in found:
                    found["ready"] = (m.group(1), m.group(2))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30.0):
        """SIGTERM, wait for a clean exit; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Outcome:
    """What one program run printed: exit code, the JSON events, and where its logs are."""

    def __init__(self, name, rc, stdout, stderr_path, elapsed):
        self.name = name
        self.rc = rc
        self.stderr_path = stderr_path
        self.elapsed = elapsed
        self.stdout = stdout
        self.events = []
        self.bad_lines = []
        for line in stdout.splitlines():
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            if isinstance(obj, dict):
                self.events.append(obj)
            else:
                self.bad_lines.append(line)

    def whole_json(self):
        """Stdout parsed as one JSON document (the CLI's pretty-printed answers), or None."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def of(self, event):
        return [e for e in self.events if e.get("event") == event]

    def done(self):
        d = self.of("done")
        return d[-1] if d else None

    def stderr_tail(self, n=5):
        try:
            with open(self.stderr_path, "r", encoding="utf-8", errors="replace") as f:
                lines = [ln.rstrip() for ln in f if ln.strip()]
        except OSError:
            return []
        return lines[-n:]


class Runner:
    """Runs kit clients and `saturn` commands, keeping each run's stdout/stderr in the log dir."""

    def __init__(self, kit, saturn, log_dir):
        self.kit = kit
        self.client_cmd = os.path.join(kit, "client")
        self.saturn = saturn
        self.log_dir = log_dir
        self.seq = 0
        self.lock = threading.Lock()
        self.env = dict(os.environ)
        # The C++ library logs to ~/logs/rocketmq-cpp unless told otherwise.
        self.env.setdefault("COMPAT_LOG_DIR", os.path.join(log_dir, "cpp-native"))

    def _paths(self, name):
        with self.lock:
            self.seq += 1
            n = self.seq
        base = os.path.join(self.log_dir, "%04d-%s" % (n, re.sub(r"[^A-Za-z0-9_.-]+", "_", name)))
        return base + ".out", base + ".err"

    def spawn(self, name, cmd):
        """Starts a program; `finish` collects it. Stdout goes to a file (never a full pipe)."""
        out_path, err_path = self._paths(name)
        out = open(out_path, "wb")
        err = open(err_path, "wb")
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=self.env)
        out.close()
        err.close()
        return {"name": name, "proc": proc, "out": out_path, "err": err_path, "t0": time.time()}

    def finish(self, handle, timeout):
        proc = handle["proc"]
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = "killed after %.0fs" % timeout
        with open(handle["out"], "r", encoding="utf-8", errors="replace") as f:
            stdout = f.read()
        return Outcome(handle["name"], rc, stdout, handle["err"], time.time() - handle["t0"])

    def client(self, client, role, args, name=None, timeout=None):
        """Runs `client CLIENT ROLE ARGS` to completion. The kit's --deadline bounds it too."""
        return self.finish(self.spawn_client(client, role, args, name), timeout or 180.0)

    def spawn_client(self, client, role, args, name=None):
        cmd = [self.client_cmd, client, role] + [str(a) for a in args]
        return self.spawn(name or "%s-%s" % (client, role), cmd)

    def saturn_cmd(self, args, name, timeout=120.0):
        """Runs `saturn ARGS`; its stdout is JSON lines when --json is among ARGS."""
        cmd = [self.saturn] + [str(a) for a in args]
        return self.finish(self.spawn(name, cmd), timeout)

    def saturn_help(self, args):
        r = subprocess.run([self.saturn] + list(args) + ["--help"], capture_output=True, text=True,
                           timeout=30)
        return r.stdout + r.stderr


class Flow:
    """The checks of one flow × client. A failed check records a reason; the flow goes on, so one
    run shows every problem, not just the first."""

    def __init__(self, name, client):
        self.name = name
        self.client = client
        self.failures = []
        self.notes = []
        self.t0 = time.time()
        self.elapsed = 0.0

    @property
    def passed(self):
        return not self.failures

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)
        return bool(ok)

    def note(self, text):
        self.notes.append(text)

    def finish(self):
        self.elapsed = time.time() - self.t0

    def producer_ok(self, out, count, what="producer"):
        """A kit producer run sent exactly `count` messages, every one SEND_OK, and said so."""
        ok = self.run_ok(out, what)
        sent = out.of("sent")
        ok &= self.check(len(sent) == count, "%s: %d sent lines, expected %d" % (what, len(sent), count))
        bad = [s for s in sent if s.get("status") != "SEND_OK"]
        ok &= self.check(not bad, "%s: %d sends not SEND_OK, e.g. %s" % (what, len(bad), bad[:1]))
        ids = [s.get("msg_id") for s in sent]
        ok &= self.check(all(ids) and len(set(ids)) == len(ids),
                         "%s: msg_ids missing or repeated" % what)
        done = out.done()
        ok &= self.check(done is not None and done.get("count") == count and done.get("errors") == 0,
                         "%s: done line %s, expected count %d and no errors" % (what, done, count))
        return ok

    def run_ok(self, out, what):
        """Exit 0, only JSON on stdout, a started line (unless it failed earlier) and a final done."""
        ok = self.check(out.rc == 0, "%s: exit code %s; stderr tail: %s"
                        % (what, out.rc, " | ".join(out.stderr_tail(3))))
        ok &= self.check(not out.bad_lines, "%s: non-JSON stdout lines, e.g. %r" % (what, out.bad_lines[:1]))
        errors = out.of("error")
        ok &= self.check(not errors, "%s: error lines, e.g. %s" % (what, errors[:2]))
        ok &= self.check(bool(out.of("started")), "%s: no started line" % what)
        ok &= self.check(bool(out.events) and out.events[-1].get("event") == "done",
                         "%s: last line is not done" % what)
        return ok

    def received_fresh(self, out):
        """Received lines that are not the kit's duplicate reports."""
        return [r for r in out.of("received") if not r.get("duplicate")]


def expected_body(i, size, prefix="body-"):
    """The kit producers' body of message i with --size: prefix+i padded with 'x' (or cut)."""
    b = (prefix + str(i)).encode()
    return (b + b"x" * max(0, size - len(b)))[:size].decode()


def saturn_body(i, size=64):
    """`saturn produce`'s generated body of message i: `msg-<i>-` padded with 'x' to --size."""
    b = ("msg-%d-" % i).encode()
    return (b + b"x" * max(0, size - len(b)))[:size].decode()


def by_key(lines):
    """Sent/received lines indexed by their KEYS (one key per message in every flow)."""
    return {s.get("keys"): s for s in lines}


def check_delivery(f, lines, sent_by_key, what, tag=None, body_of=None):
    """The received lines carry exactly the sent keys, each once, with the sent msg_id, topic, tag
    and body. A line whose msg_id was already seen counts as a redelivery (a failure here: every
    flow consumes successfully, so nothing should come twice)."""
    seen, got, dups = set(), [], 0
    for r in lines:
        if r.get("duplicate") or r.get("msg_id") in seen:
            dups += 1
            continue
        seen.add(r.get("msg_id"))
        got.append(r)
    keys = [r.get("keys") for r in got]
    f.check(len(keys) == len(set(keys)), "%s: a key delivered twice under different msg_ids" % what)
    missing = set(sent_by_key) - set(keys)
    extra = set(keys) - set(sent_by_key)
    f.check(not missing, "%s: %d sent messages not delivered: %s" % (what, len(missing), short(missing)))
    f.check(not extra, "%s: %d unexpected messages: %s" % (what, len(extra), short(extra)))
    f.check(not dups, "%s: %d redeliveries of already received messages" % (what, dups))
    bad = []
    for r in got:
        s = sent_by_key.get(r.get("keys"))
        if s is None:
            continue
        want_tag = tag if tag is not None else s.get("tag")
        if r.get("msg_id") != s.get("msg_id"):
            bad.append("%s msg_id %s != sent %s" % (r.get("keys"), r.get("msg_id"), s.get("msg_id")))
        elif r.get("tag") != want_tag:
            bad.append("%s tag %r != %r" % (r.get("keys"), r.get("tag"), want_tag))
        elif r.get("topic") != s.get("topic"):
            bad.append("%s topic %r != %r" % (r.get("keys"), r.get("topic"), s.get("topic")))
        elif body_of is not None and r.get("body") != body_of(s):
            bad.append("%s body %r != %r" % (r.get("keys"), (r.get("body") or "")[:40], body_of(s)[:40]))
    f.check(not bad, "%s: %d messages altered, e.g. %s" % (what, len(bad), "; ".join(bad[:3])))
    return got


def short(items, n=5):
    """A few items of a collection for a failure message."""
    items = sorted(items, key=str)
    more = " … (%d in all)" % len(items) if len(items) > n else ""
    return ", ".join(str(i) for i in items[:n]) + more
