#!/usr/bin/env python3
"""Where a sync-flush send spends its time, from the broker's system calls.

With one message in flight per producer, throughput is producers / cycle, and a cycle is the
broker's part (request read -> response written: the wait for a flush round, then the wake-up and
write of the response) plus the producer's turnaround (response written -> next request read by
the broker: loopback both ways, the client's work, the broker picking the request up). This reads
`perf script` output of a recording of the broker process and prints both parts, and how long
after a round's `msync` returns its responses are written.

Record a running broker (pid P) under load, then analyse:

    perf record -e syscalls:sys_exit_msync,syscalls:sys_enter_writev,\\
syscalls:sys_enter_recvfrom,syscalls:sys_exit_recvfrom -p P -o sync.data -- sleep 2
    perf script -i sync.data -F tid,time,event,trace | python3 bench/sync_breakdown.py

Tracepoints cost little (a few per cent here), but the recorded seconds run somewhat slower than
an unrecorded run; compare parts of one recording, not its totals with other runs.
"""

import re
import sys

FD = re.compile(r"fd: 0x([0-9a-f]+)")


def events(lines):
    """(time µs, kind, fd) for requests read ('req'), responses written ('resp'), rounds ('round')."""
    reading = {}
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        tid, event = parts[0], parts[2].rstrip(":")
        try:
            t = float(parts[1].rstrip(":")) * 1e6
        except ValueError:
            continue
        fd = FD.search(line)
        if event.endswith("sys_enter_recvfrom") and fd:
            reading[tid] = int(fd.group(1), 16)
        elif event.endswith("sys_exit_recvfrom") and tid in reading:
            ret = int(parts[3], 16) if len(parts) > 3 else -1
            # A failed read (EAGAIN) comes back as a huge unsigned value.
            if 0 < ret < 1 << 40:
                yield t, "req", reading[tid]
        elif event.endswith("sys_enter_writev") and fd:
            yield t, "resp", int(fd.group(1), 16)
        elif event.endswith("sys_exit_msync"):
            yield t, "round", None


def summary(values):
    if not values:
        return "no samples"
    v = sorted(values)
    n = len(v)
    return (
        f"n={n} p10={v[n // 10]:.0f} p50={v[n // 2]:.0f} p90={v[n * 9 // 10]:.0f} "
        f"mean={sum(v) / n:.0f} µs"
    )


def main():
    request_at, response_at = {}, {}
    broker, turnaround, after_round = [], [], []
    last_round = None
    rounds = 0
    for t, kind, fd in events(sys.stdin):
        if kind == "req":
            if fd in response_at:
                turnaround.append(t - response_at.pop(fd))
            request_at[fd] = t
        elif kind == "resp":
            if fd in request_at:
                broker.append(t - request_at.pop(fd))
            response_at[fd] = t
            if last_round is not None:
                after_round.append(t - last_round)
        else:
            last_round = t
            rounds += 1
    print("broker, request read -> response written:", summary(broker))
    print("producer turnaround, response written -> next request read:", summary(turnaround))
    print("response written after the latest msync returned:", summary(after_round))
    if broker and rounds:
        print(f"rounds: {rounds}, responses per round: {len(broker) / rounds:.1f}")


if __name__ == "__main__":
    main()
