"""Compatibility flows: real RocketMQ remoting clients (the kit's `cpp` and `rs-remoting`) against
`saturn standalone`, every result checked on the clients' JSON lines.

Driven by tests/compat/run.sh (which builds saturn and installs the clients); can be run alone:

    python3 tests/compat/flows.py --saturn target/debug/saturn --kit ../shared/compat --work DIR
        [--clients "cpp rs-remoting"] [--only "send-1000 push-all ..."] [--results FILE]

Prints PASS/FAIL per flow × client, then a table and a summary; exit code 1 on any failure.
"""
import argparse
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Flow, HarnessError, Runner, Server, by_key, check_delivery,  # noqa: E402
                     expected_body, saturn_body, short)

CLIENTS = ["cpp", "rs-remoting"]
BULK = 1000           # flow 2/3 message count
BULK_BODY_SIZE = 100  # bodies "body-<i>" padded with x to this size
KEY_SAMPLE = 20       # keys looked up with `admin message by-key` (spread over the 1,000)
ID_WORKERS = 4        # parallel `admin message by-id` lookups


class Ctx:
    """Shared state of one run: the server, the runner, and what earlier flows produced."""

    def __init__(self, runner, server, clients):
        self.runner = runner
        self.server = server
        self.clients = clients
        self.bulk = {}        # client -> {key: sent line} of send-1000
        self.restart_sent = {}  # client -> {key: sent line} produced before the restart
        self.results = []
        self.by_id_topic = None  # whether `admin message by-id` takes --topic

    # -- programs ---------------------------------------------------------------------------
    def client(self, client, role, args, name, deadline=90):
        args = ["--addr", self.server.namesrv, "--deadline", deadline] + list(args)
        return self.runner.client(client, role, args, name=name, timeout=deadline + 30)

    def spawn_client(self, client, role, args, name, deadline=90):
        args = ["--addr", self.server.namesrv, "--deadline", deadline] + list(args)
        return self.runner.spawn_client(client, role, args, name=name)

    def admin(self, args, name):
        return self.runner.saturn_cmd(["admin", "--namesrv", self.server.namesrv, "--json"] + list(args),
                                      name, timeout=60)

    def saturn(self, args, name, timeout=120):
        return self.runner.saturn_cmd(list(args), name, timeout=timeout)


def slug(client):
    return client.replace("-", "")


def kit_body(s):
    return expected_body(int(s["i"]), BULK_BODY_SIZE)


# -- flow 1 -----------------------------------------------------------------------------------
def flow_route(ctx, f, c):
    """Route discovery through saturn's name server; produce to an auto-created topic and to one
    made with `saturn admin topic create`."""
    auto, made = "cx-auto-%s" % slug(c), "cx-made-%s" % slug(c)
    out = ctx.client(c, "producer", ["--topic", auto, "--count", 10], "route-auto-" + c)
    f.producer_ok(out, 10, "producer to auto-created topic")
    route = ctx.admin(["topic", "route", "--topic", auto], "route-of-auto-" + c)
    rd = route.whole_json()
    if f.check(route.rc == 0 and isinstance(rd, dict), "admin topic route %s failed: rc %s %s"
               % (auto, route.rc, route.stderr_tail(2))):
        addrs = [a for b in rd.get("brokerDatas", rd.get("broker_datas", []))
                 for a in (b.get("brokerAddrs") or b.get("broker_addrs") or {}).values()]
        f.check(ctx.server.broker in addrs, "route of %s lists brokers %s, not %s"
                % (auto, addrs, ctx.server.broker))
    created = ctx.admin(["topic", "create", "--topic", made, "--queues", 4], "create-" + c)
    f.check(created.rc == 0 and created.events and created.events[0].get("topic") == made,
            "admin topic create: rc %s, output %r" % (created.rc, created.stdout[:200]))
    out = ctx.client(c, "producer", ["--topic", made, "--count", 12], "route-made-" + c)
    f.producer_ok(out, 12, "producer to created topic")
    qids = {s.get("queue_id") for s in out.of("sent") if s.get("queue_id") is not None}
    f.check(qids <= {0, 1, 2, 3}, "sends to the 4-queue topic went to queues %s" % sorted(qids))
    stats = queue_stats(ctx, made, "stats-made-" + c)
    if f.check(stats is not None, "admin topic stats %s failed" % made):
        f.check(sorted(stats) == [0, 1, 2, 3], "created topic has queues %s, expected 0..3" % sorted(stats))
        total = sum(hi - lo for lo, hi in stats.values())
        f.check(total == 12, "created topic holds %d messages, 12 were sent" % total)


def queue_stats(ctx, topic, name):
    """{queue_id: (min_offset, max_offset)} from `saturn admin topic stats --json`, or None."""
    out = ctx.admin(["topic", "stats", "--topic", topic], name)
    rows = out.whole_json()
    if out.rc != 0 or not isinstance(rows, list):
        return None
    return {int(r["queue_id"]): (int(r["min_offset"]), int(r["max_offset"])) for r in rows}


# -- flow 2 -----------------------------------------------------------------------------------
def flow_send(ctx, f, c):
    """1,000 sync sends with tag and key; every msg_id found by `admin message by-id`, a sample of
    the keys by `admin message by-key`."""
    topic = "cx-bulk-%s" % slug(c)
    out = ctx.client(c, "producer", ["--topic", topic, "--count", BULK, "--tag", "TagA",
                                     "--keys-prefix", "key-", "--size", BULK_BODY_SIZE],
                     "bulk-send-" + c, deadline=180)
    f.producer_ok(out, BULK, "producer")
    sent = out.of("sent")
    wrong = [s for s in sent if s.get("keys") != "key-%s" % s.get("i") or s.get("tag") != "TagA"]
    f.check(not wrong, "sent lines with wrong key/tag: %s" % wrong[:2])
    ctx.bulk[c] = by_key(sent)
    if not sent:
        return

    # Every msg_id (the UNIQ_KEY for these clients) through by-id. A UNIQ_KEY is only
    # findable with its topic (as Java's mqadmin queryMsgById), so the CLI needs --topic.
    if ctx.by_id_topic is None:
        ctx.by_id_topic = "--topic" in ctx.runner.saturn_help(["admin", "message", "by-id"])
    if f.check(ctx.by_id_topic, "`saturn admin message by-id` has no --topic: it cannot look up a "
               "UNIQ_KEY (it decodes every id as an offset id; the cpp ids would even dial "
               "1.0.0.127), so the %d msg_ids were not looked up" % len(sent)):
        def lookup_id(s):
            r = ctx.admin(["message", "by-id", s["msg_id"], "--topic", topic], "by-id-%s-%s" % (c, s["i"]))
            hit = [m for m in r.events if m.get("keys") == s["keys"] and m.get("topic") == topic]
            return None if (r.rc == 0 and hit) else "%s (rc %s: %s)" % (
                s["msg_id"], r.rc, " ".join(r.stderr_tail(1))[:160])

        with ThreadPoolExecutor(ID_WORKERS) as pool:
            misses = [m for m in pool.map(lookup_id, sent) if m]
        f.check(not misses, "admin message by-id did not find %d of %d msg_ids, e.g. %s"
                % (len(misses), len(sent), misses[0] if misses else ""))
    # Whether the UNIQ_KEYs are in the broker's index at all (by-key matches them too).
    probe = sent[:: max(1, len(sent) // 5)][:5]
    found = [s for s in probe if any(m.get("msg_id") == s["msg_id"] for m in ctx.admin(
        ["message", "by-key", topic, s["msg_id"]], "by-uniq-key-%s-%s" % (c, s["i"])).events)]
    f.check(len(found) == len(probe), "only %d of %d sampled msg_ids found by `admin message by-key "
            "TOPIC MSG_ID`" % (len(found), len(probe)))

    # The broker's offset ids, where the client reports them (rs-remoting), on a sample.
    sample = [sent[k] for k in range(0, len(sent), max(1, len(sent) // KEY_SAMPLE))][:KEY_SAMPLE]
    offset_ids = [s for s in sample if s.get("offset_msg_id")]
    if offset_ids:
        bad = []
        for s in offset_ids:
            r = ctx.admin(["message", "by-id", s["offset_msg_id"]], "by-offset-id-%s-%s" % (c, s["i"]))
            if not (r.rc == 0 and any(m.get("keys") == s["keys"] for m in r.events)):
                bad.append(s["offset_msg_id"])
        f.check(not bad, "by-id with the offset_msg_id failed for %s" % short(bad))
    # Keys through the index, on a sample spread over the range.
    bad = []
    for s in sample:
        r = ctx.admin(["message", "by-key", topic, s["keys"]], "by-key-%s-%s" % (c, s["i"]))
        hits = [m for m in r.events if m.get("keys") == s["keys"]]
        if r.rc != 0 or len(hits) != 1 or hits[0].get("msg_id") != s["msg_id"]:
            bad.append("%s (rc %s, %d hits)" % (s["keys"], r.rc, len(hits)))
    f.check(not bad, "admin message by-key failed for %d of %d sampled keys: %s"
            % (len(bad), len(sample), short(bad, 3)))
    f.note("by-id: %d of %d msg_ids looked up; by-key: %d sampled keys, %d sampled msg_ids"
           % (len(sent) if ctx.by_id_topic else 0, len(sent), len(sample), len(probe)))


# -- flow 3 -----------------------------------------------------------------------------------
def flow_push_all(ctx, f, c):
    """Push consumer (clustering) receives all 1,000 with tag, key, msg_id and body intact."""
    sent = ctx.bulk.get(c)
    if not f.check(sent, "needs the messages of send-1000"):
        return
    out = ctx.client(c, "push_consumer", ["--topic", "cx-bulk-%s" % slug(c), "--group", "cx-all-%s" % slug(c),
                                          "--count", len(sent), "--timeout", 20, "--show-body", -1],
                     "push-all-" + c, deadline=150)
    f.run_ok(out, "push consumer")
    check_delivery(f, out.of("received"), sent, "push consumer", body_of=kit_body)


def resume_nothing_old(ctx, f, c, what):
    """The push-all group, started again, gets none of the messages it already consumed."""
    sent = ctx.bulk.get(c)
    if not f.check(sent, "needs the messages of send-1000"):
        return
    out = ctx.client(c, "push_consumer", ["--topic", "cx-bulk-%s" % slug(c), "--group", "cx-all-%s" % slug(c),
                                          "--count", 0, "--timeout", 6],
                     what + "-" + c, deadline=60)
    f.run_ok(out, what)
    old = [r.get("keys") for r in out.of("received") if r.get("keys") in sent]
    f.check(not old, "%s: %d already consumed messages delivered again: %s" % (what, len(old), short(old)))


def flow_push_resume(ctx, f, c):
    """Committed offsets: a second run of the same group receives nothing old."""
    resume_nothing_old(ctx, f, c, "second run of the group")


def wait_started(handles, timeout=40.0):
    """Waits until every spawned client printed its started line (or exited)."""
    end = time.time() + timeout
    pending = list(handles)
    while pending and time.time() < end:
        for h in list(pending):
            with open(h["out"], "r", encoding="utf-8", errors="replace") as fh:
                if '"started"' in fh.read() or h["proc"].poll() is not None:
                    pending.remove(h)
        time.sleep(0.1)
    return not pending


def flow_push_split(ctx, f, c):
    """Two consumers of one group started together share the queues: union = all, overlap = none."""
    topic, group = "cx-split-%s" % slug(c), "cx-split-%s" % slug(c)
    created = ctx.admin(["topic", "create", "--topic", topic, "--queues", 8], "split-create-" + c)
    f.check(created.rc == 0, "admin topic create failed: %s" % created.stderr_tail(2))
    args = ["--topic", topic, "--group", group, "--count", 0, "--timeout", 15, "--show-body", -1]
    hs = [ctx.spawn_client(c, "push_consumer", args, "split-consumer%d-%s" % (n, c)) for n in (1, 2)]
    f.check(wait_started(hs), "the two consumers did not both start")
    # Neither client exposes "rebalance done"; both rebalance at start and on the broker's
    # NOTIFY_CONSUMER_IDS_CHANGED. The scenario is "two members up, then traffic", so give the
    # group a moment to settle before producing.
    time.sleep(3)
    prod = ctx.client(c, "producer", ["--topic", topic, "--count", 200, "--keys-prefix", "split-",
                                      "--size", BULK_BODY_SIZE], "split-producer-" + c)
    f.producer_ok(prod, 200, "producer")
    outs = [ctx.runner.finish(h, 120) for h in hs]
    sent = by_key(prod.of("sent"))
    sets = []
    for n, out in enumerate(outs, 1):
        f.run_ok(out, "consumer %d" % n)
        dups = [r for r in out.of("received") if r.get("duplicate")]
        f.check(not dups, "consumer %d: %d redeliveries" % (n, len(dups)))
        sets.append({r.get("keys") for r in f.received_fresh(out)})
    union, both = sets[0] | sets[1], sets[0] & sets[1]
    f.check(union == set(sent), "union of the two consumers: %d of %d sent; missing %s; extra %s"
            % (len(union & set(sent)), len(sent), short(set(sent) - union), short(union - set(sent))))
    f.check(not both, "%d messages delivered to both consumers: %s" % (len(both), short(both)))
    f.check(sets[0] and sets[1], "work not split: consumer 1 got %d, consumer 2 got %d"
            % (len(sets[0]), len(sets[1])))
    f.note("split %d / %d" % (len(sets[0]), len(sets[1])))


def flow_retry(ctx, f, c):
    """Redelivery: a message whose consume failed comes back (via %RETRY%<group>) until it
    succeeds, with reconsume_times counting the failures. (Delay levels are not honoured yet, so
    this checks delivery, not the back-off.)"""
    topic = "cx-retry-%s" % slug(c)
    prod = ctx.client(c, "producer", ["--topic", topic, "--count", 5, "--keys-prefix", "rt-",
                                      "--size", BULK_BODY_SIZE], "retry-send-" + c)
    f.producer_ok(prod, 5, "producer")
    sent = by_key(prod.of("sent"))
    out = ctx.client(c, "push_consumer", ["--topic", topic, "--group", "cx-retry-%s" % slug(c),
                                          "--count", 5, "--fail-times", 2, "--timeout", 40,
                                          "--show-body", -1], "retry-consume-" + c, deadline=90)
    f.run_ok(out, "push consumer")
    got = check_delivery(f, out.of("received"), sent, "consumer", body_of=kit_body)
    fails = out.of("consume_failed")
    f.check(len(fails) == 10, "%d consume_failed lines, expected 2 per message (10)" % len(fails))
    wrong = [r.get("keys") for r in got if r.get("reconsume_times") != 2]
    f.check(not wrong, "reconsume_times is not 2 on %s" % short(wrong))


# -- flow 4 -----------------------------------------------------------------------------------
def flow_tags(ctx, f, c):
    """Tag filter `TagA || TagB` over TagA/TagB/TagC messages delivers exactly A and B."""
    topic = "cx-tags-%s" % slug(c)
    sent = {}
    # TagC first: were filtering broken, the C messages would be at the head of every queue.
    for tag, prefix in (("TagC", "c-"), ("TagA", "a-"), ("TagB", "b-")):
        out = ctx.client(c, "producer", ["--topic", topic, "--count", 10, "--tag", tag,
                                         "--keys-prefix", prefix], "tags-send-%s-%s" % (tag, c))
        f.producer_ok(out, 10, "producer %s" % tag)
        if tag != "TagC":
            sent.update(by_key(out.of("sent")))
    out = ctx.client(c, "push_consumer", ["--topic", topic, "--group", "cx-tags-%s" % slug(c),
                                          "--tag-expr", "TagA || TagB", "--count", 0, "--timeout", 8],
                     "tags-consume-" + c, deadline=60)
    f.run_ok(out, "push consumer")
    check_delivery(f, out.of("received"), sent, "filtered consumer")


# -- flow 5 -----------------------------------------------------------------------------------
def pulled(out):
    return {(r.get("queue_id"), r.get("offset")): r.get("keys") for r in out.of("received")}


def flow_pull(ctx, f, c):
    """Pull consumer with explicit offsets reads each queue from --from-offset to its end, where
    the broker answers PULL_NOT_FOUND (the driver logs NO_NEW_MSG) and the run ends cleanly."""
    topic = "cx-pull-%s" % slug(c)
    created = ctx.admin(["topic", "create", "--topic", topic, "--queues", 4], "pull-create-" + c)
    f.check(created.rc == 0, "admin topic create failed: %s" % created.stderr_tail(2))
    prod = ctx.client(c, "producer", ["--topic", topic, "--count", 40, "--keys-prefix", "p-"],
                      "pull-send-" + c)
    f.producer_ok(prod, 40, "producer")
    sent_keys = set(by_key(prod.of("sent")))
    stats = queue_stats(ctx, topic, "pull-stats-" + c)
    if not f.check(stats, "admin topic stats failed"):
        return
    first = None
    for start in (0, 6):
        out = ctx.client(c, "pull_consumer", ["--topic", topic, "--group", "cx-pull-%s" % slug(c),
                                              "--from-offset", start, "--batch", 4, "--count", 0,
                                              "--timeout", 3], "pull-from-%d-%s" % (start, c), deadline=60)
        what = "pull from offset %d" % start
        f.run_ok(out, what)
        got = pulled(out)
        want = {(q, o) for q, (lo, hi) in stats.items() for o in range(max(lo, start), hi)}
        f.check(set(got) == want, "%s: got %d (queue, offset) pairs, expected %d; missing %s; extra %s"
                % (what, len(got), len(want), short(want - set(got)), short(set(got) - want)))
        f.check(len(out.of("received")) == len(want), "%s: %d received lines for %d messages"
                % (what, len(out.of("received")), len(want)))
        if start == 0:
            first = got
            f.check(set(got.values()) == sent_keys, "%s: keys differ from the sent ones" % what)
        elif first:
            moved = [p for p in got if first.get(p) != got[p]]
            f.check(not moved, "%s: (queue, offset) → key differs from the first pull at %s"
                    % (what, short(moved)))
        # Where each queue ended: the driver logs every pull; the last one per queue must be
        # NO_NEW_MSG (PULL_NOT_FOUND) at the queue's max offset.
        last = {}
        try:
            with open(out.stderr_path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if "pull queue=" in line:
                        part = line.split("pull queue=", 1)[1].split()
                        last[int(part[0])] = (line.split("-> ", 1)[1].split()[0],
                                              int(part[1].split("=", 1)[1]))
        except (OSError, IndexError, ValueError):
            pass
        ends = {q: ("NO_NEW_MSG", max(hi, start)) for q, (lo, hi) in stats.items()}
        f.check(last == ends, "%s: last pull per queue %s, expected %s" % (what, last, ends))


# -- flow 6 -----------------------------------------------------------------------------------
def flow_to_saturn(ctx, f, c):
    """Messages sent by the real client are consumed by `saturn consume --json` (our client)."""
    topic = "cx-tosat-%s" % slug(c)
    prod = ctx.client(c, "producer", ["--topic", topic, "--count", 100, "--keys-prefix", "ts-",
                                      "--tag", "TagI", "--size", BULK_BODY_SIZE], "tosat-send-" + c)
    f.producer_ok(prod, 100, "producer")
    out = ctx.saturn(["consume", "--namesrv", ctx.server.namesrv, "--topic", topic, "--group",
                      "cx-tosat-%s" % slug(c), "--from", "first", "--count", 100, "--timeout", 20,
                      "--json"], "tosat-consume-" + c)
    f.check(out.rc == 0, "saturn consume exit code %s: %s" % (out.rc, out.stderr_tail(3)))
    f.check(not out.bad_lines, "saturn consume printed non-JSON lines: %r" % out.bad_lines[:1])
    check_delivery(f, out.events, by_key(prod.of("sent")), "saturn consume", tag="TagI", body_of=kit_body)


def flow_from_saturn(ctx, f, c):
    """Messages sent by `saturn produce` are consumed by the real client."""
    topic = "cx-fromsat-%s" % slug(c)
    key = "fs-%s" % slug(c)
    prod = ctx.saturn(["produce", "--namesrv", ctx.server.namesrv, "--topic", topic, "--count", 50,
                       "--tag", "TagS", "--keys", key, "--size", 64, "--json"], "fromsat-send-" + c)
    lines = prod.events
    f.check(prod.rc == 0 and len(lines) == 50, "saturn produce: exit %s, %d result lines"
            % (prod.rc, len(lines)))
    f.check(all(s.get("status") == "SEND_OK" for s in lines), "saturn produce: not all SEND_OK")
    by_id = {s.get("msg_id"): s for s in lines}
    out = ctx.client(c, "push_consumer", ["--topic", topic, "--group", "cx-fromsat-%s" % slug(c),
                                          "--count", len(lines) or 1, "--timeout", 20, "--show-body", -1],
                     "fromsat-consume-" + c)
    f.run_ok(out, "push consumer")
    got = f.received_fresh(out)
    ids = {r.get("msg_id") for r in got}
    f.check(ids == set(by_id), "consumer got %d of %d saturn-produced messages; missing %s; extra %s"
            % (len(ids & set(by_id)), len(by_id), short(set(by_id) - ids), short(ids - set(by_id))))
    bad = [r for r in got if r.get("msg_id") in by_id and (
        r.get("tag") != "TagS" or r.get("keys") != key or r.get("topic") != topic
        or r.get("body") != saturn_body(int(by_id[r["msg_id"]]["i"])))]
    f.check(not bad, "%d messages altered, e.g. %s" % (len(bad), bad[:1]))


# -- flow 7 -----------------------------------------------------------------------------------
def restart_produce(ctx, f, c):
    topic = "cx-restart-%s" % slug(c)
    prod = ctx.client(c, "producer", ["--topic", topic, "--count", 100, "--keys-prefix", "r-",
                                      "--size", BULK_BODY_SIZE], "restart-send-" + c)
    f.producer_ok(prod, 100, "producer before restart")
    ctx.restart_sent[c] = by_key(prod.of("sent"))


def restart_server(ctx):
    """SIGTERM the server, start it again on the same data dir (new ports). Returns a problem or None."""
    code = ctx.server.stop()
    problem = None if code == 0 else "saturn standalone exit code on SIGTERM: %s" % code
    ctx.server.start()
    return problem


def restart_consume(ctx, f, c, stop_problem):
    f.check(stop_problem is None, stop_problem or "")
    sent = ctx.restart_sent.get(c)
    if not f.check(sent, "nothing was produced before the restart"):
        return
    out = ctx.client(c, "push_consumer", ["--topic", "cx-restart-%s" % slug(c), "--group",
                                          "cx-restart-%s" % slug(c), "--count", len(sent), "--timeout", 20,
                                          "--show-body", -1], "restart-consume-" + c)
    f.run_ok(out, "consumer after restart")
    check_delivery(f, out.of("received"), sent, "consumer after restart", body_of=kit_body)
    if ctx.bulk.get(c):
        resume_nothing_old(ctx, f, c, "push-all group after restart")


# -- flow 8 -----------------------------------------------------------------------------------
def flow_tx(ctx, f, c):
    """Transactions: committed half messages are delivered, rolled back ones are not."""
    topic = "cx-tx-%s" % slug(c)
    committed = {}
    for mode, prefix in (("commit", "txc-"), ("rollback", "txr-")):
        out = ctx.client(c, "tx_producer", ["--topic", topic, "--count", 5, "--tx-mode", mode,
                                            "--keys-prefix", prefix, "--size", BULK_BODY_SIZE],
                         "tx-%s-%s" % (mode, c))
        f.producer_ok(out, 5, "tx_producer %s" % mode)
        ends = out.of("tx_end")
        f.check(len(ends) == 5 and all(e.get("resolution") == mode.upper() for e in ends),
                "tx_producer %s: tx_end lines %s" % (mode, ends[:2]))
        if mode == "commit":
            committed = by_key(out.of("sent"))
    out = ctx.client(c, "push_consumer", ["--topic", topic, "--group", "cx-tx-%s" % slug(c),
                                          "--count", 0, "--timeout", 8, "--show-body", -1],
                     "tx-consume-" + c, deadline=60)
    f.run_ok(out, "push consumer")
    check_delivery(f, out.of("received"), committed, "tx consumer", body_of=kit_body)


FLOWS = [
    # name, function, clients it applies to (None = all remoting clients)
    ("route", flow_route, None),
    ("send-1000", flow_send, None),
    ("push-all", flow_push_all, None),
    ("push-resume", flow_push_resume, None),
    ("push-split", flow_push_split, None),
    ("retry", flow_retry, ["rs-remoting"]),  # the cpp driver has no --fail-times
    ("tag-filter", flow_tags, None),
    ("pull-offsets", flow_pull, ["cpp"]),
    ("to-saturn", flow_to_saturn, None),
    ("from-saturn", flow_from_saturn, None),
    ("tx", flow_tx, ["rs-remoting"]),
]
RESTART = "restart"
ALL_FLOWS = [n for n, _, _ in FLOWS] + [RESTART]


def report(f):
    status = "PASS" if f.passed else "FAIL"
    print("%s  %-13s %-12s (%.1fs)%s" % (status, f.name, f.client, f.elapsed,
                                         ("  " + "; ".join(f.notes)) if f.notes else ""), flush=True)
    for why in f.failures[:6]:
        print("        - " + why, flush=True)
    if len(f.failures) > 6:
        print("        - … %d more" % (len(f.failures) - 6), flush=True)


def run_flow(ctx, name, fn, c):
    f = Flow(name, c)
    if not ctx.server.alive():
        f.check(False, "saturn standalone had exited before this flow (log %s); restarted"
                % ctx.server.log_path)
        ctx.server.start()
    try:
        fn(ctx, f, c)
    except HarnessError as e:
        f.check(False, "harness: %s" % e)
    if not ctx.server.alive():
        f.check(False, "saturn standalone exited during this flow (code %s); log %s"
                % (ctx.server.proc.returncode if ctx.server.proc else "?", ctx.server.log_path))
    f.finish()
    report(f)
    ctx.results.append(f)


def run_restart(ctx, clients):
    flows = {c: Flow(RESTART, c) for c in clients}
    for c in clients:
        restart_produce(ctx, flows[c], c)
    problem = restart_server(ctx)
    print("      (restarted: namesrv=%s broker=%s)" % (ctx.server.namesrv, ctx.server.broker), flush=True)
    for c in clients:
        restart_consume(ctx, flows[c], c, problem)
        flows[c].finish()
        report(flows[c])
        ctx.results.append(flows[c])


def summary(ctx, clients, t0):
    print()
    print("%-13s " % "flow" + " ".join("%-12s" % c for c in clients))
    for name in ALL_FLOWS:
        cells = []
        for c in clients:
            r = [f for f in ctx.results if f.name == name and f.client == c]
            cells.append("%-12s" % ("-" if not r else ("PASS" if r[0].passed else "FAIL")))
        if any(cell.strip() != "-" for cell in cells):
            print("%-13s " % name + " ".join(cells))
    passed = sum(1 for f in ctx.results if f.passed)
    failed = len(ctx.results) - passed
    print("\n%d passed, %d failed in %.0fs" % (passed, failed, time.time() - t0), flush=True)
    return failed


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--saturn", required=True, help="the saturn binary")
    p.add_argument("--kit", required=True, help="the compat kit folder (../shared/compat)")
    p.add_argument("--work", required=True, help="scratch folder: data dir and logs")
    p.add_argument("--clients", default=" ".join(CLIENTS))
    p.add_argument("--only", default="", help="run only these flows (%s)" % " ".join(ALL_FLOWS))
    p.add_argument("--results", default=None, help="also write the results as JSON here")
    a = p.parse_args()
    clients = a.clients.split()
    only = set(a.only.split()) or set(ALL_FLOWS)
    unknown = only - set(ALL_FLOWS)
    if unknown:
        p.error("unknown flows: %s" % " ".join(sorted(unknown)))
    logs = os.path.join(a.work, "logs")
    os.makedirs(logs, exist_ok=True)
    server = Server(os.path.abspath(a.saturn), os.path.join(a.work, "data"), logs)
    ctx = Ctx(Runner(os.path.abspath(a.kit), os.path.abspath(a.saturn), logs), server, clients)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.time()
    try:
        server.start()
        print("saturn standalone: namesrv=%s broker=%s (logs in %s)" % (server.namesrv, server.broker, logs),
              flush=True)
        for name, fn, applies in FLOWS:
            if name in only:
                for c in clients:
                    if applies is None or c in applies:
                        run_flow(ctx, name, fn, c)
        if RESTART in only:
            run_restart(ctx, clients)
    except HarnessError as e:
        print("HARNESS ERROR: %s" % e, flush=True)
        return 2
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    finally:
        server.stop()
    failed = summary(ctx, clients, t0)
    if a.results:
        with open(a.results, "w") as fh:
            json.dump([{"flow": f.name, "client": f.client, "passed": f.passed, "failures": f.failures,
                        "notes": f.notes, "seconds": round(f.elapsed, 1)} for f in ctx.results], fh, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
