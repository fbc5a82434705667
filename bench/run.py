#!/usr/bin/env python3
"""bench/run.py - runs every benchmark kernel for every implementation that
was built, in one run, and prints a Markdown report (also written to a file).

Python 3 standard library only.  Normally started through bench/run.sh,
which builds first.  For each kernel and implementation:

  * wall time, median of --reps timed repetitions (after one untimed
    warm-up), inside one process per configuration;
  * T1: 1 worker pinned (taskset -c 0), T2: 2 workers pinned
    (taskset -c 0,1); taskgroup pins with tg_runner_config.pin_threads,
    oneTBB with an observer, OpenMP with OMP_PROC_BIND=close and
    OMP_PLACES=threads; the serial baseline runs under taskset -c 0;
  * ns per spawn = (T1 - Tserial) / spawns;
  * speedup = T1 / T2 (and Tserial / T2);
  * peak RSS (ru_maxrss, printed by each program);
  * taskgroup (spawn_each), impl key tg_each: the tiny and spin batches
    spawned with one tg_spawn_each call instead of a loop of tg_spawn
    (bench_<kernel>_each_tg; no other kernel has it);
  * instructions per spawn+join from valgrind --tool=callgrind, on fib at
    two small sizes, differenced so that start-up costs cancel:
        ((I_impl(b) - I_impl(a)) - (I_serial(b) - I_serial(a)))
        / (spawns(b) - spawns(a))
    and, for reference, the one-size figure (I_impl(b) - I_serial(b)) /
    spawns(b), which still contains the start-up cost.

Then the cancellation suite (docs/benchmarks.md, "Cancellation"; skipped
with --suite forkjoin, run alone with --suite cancel):

  * checkpoint: ns per tg_cancelled() / TG_CHECKPOINT() in a loop of a
    child task, against the same loop empty, 1 and 2 workers;
  * skip: spawn N children into a fail-fast group, tg_group_cancel, join
    (every child skipped) against spawn N + join (every child runs a
    no-op), 1 worker, each phase timed inside the task;
  * fibck: fib(30) with TG_CHECKPOINT() in every task against the plain
    fib(30) of taskgroup, the two programs alternated in the same run;
  * early exit: a batch (50 us tasks, and tiny ones) whose task n/10 fails,
    for every implementation, against a serial loop that stops at the
    failure: wall time and bodies started, 1 and 2 workers (OpenMP with
    OMP_CANCELLATION=true);
  * callgrind: instructions per checkpoint, per spawned and per skipped
    child (--toggle-collect=tg_spawn_at / tg_group_join) and per fib task
    (--toggle-collect=fib_task).

The blocking suite (only with --suite blocking; "all" is the two above), on
2, 4 and 8 workers (threads), pinned to CPUs 0 .. w-1, or to every usable
CPU when w is more than there are (the programs then pin worker i to CPU
i modulo their count):

  * sleepy: a batch of N children (8) that each block T (100 ms) in a
    plain nanosleep, no checkpoint, no blocking region: wall time per run
    for taskgroup, libgomp, libomp and oneTBB, and the serial N * T; and
    taskgroup with tg_sleep instead (impl key tgsleep, bench_sleepy_tgsleep:
    a blocking region, compensating workers), with the threads that ran a
    child (os_threads);
  * barrier: P parties each wait R rounds (10^4) of one barrier, ns per
    round timed by party 0 after an untimed first round: taskgroup
    (tg_barrier_wait, P children of one group), pthread_barrier_t with P
    plain threads (impl key pthread), and `omp barrier` in a parallel
    region of P threads; P = workers for all of them, and P = 2 * workers
    for taskgroup only (a pthread or OpenMP barrier needs a thread per
    party, so there is no such case for them).
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

IMPL_ORDER = ["serial", "tg", "tg_each", "tgsleep", "gomp", "iomp", "tbb",
              "pthread"]
IMPL_NAME = {
    "serial": "serial",
    "tg": "taskgroup",
    "tg_each": "taskgroup (spawn_each)",
    "gomp": "libgomp (gcc)",
    "iomp": "libomp (clang)",
    "tbb": "oneTBB",
    "tgsleep": "taskgroup (tg_sleep)",
    "pthread": "pthread_barrier_t",
}
# Implementations that exist for some kernels only, and program names other
# than bench_<kernel>_<impl>.
IMPL_KERNELS = {"tg_each": ("tiny", "spin"), "tgsleep": ("sleepy",),
                "pthread": ("barrier",)}
IMPL_PROGRAM = {"tg_each": "each_tg"}   # bench_<kernel>_each_tg

# (kernel, n, label) in report order.
FULL_CASES = [
    ("fib", 30, "fib(30)"),
    ("fib", 35, "fib(35)"),
    ("nqueens", 11, "nqueens(11)"),
    ("nqueens", 12, "nqueens(12)"),
    ("msort", 10_000_000, "mergesort 10^7"),
    ("tiny", 1_000_000, "tiny batch 10^6"),
    ("spin", 10_000, "50 us batch 10^4"),
]
QUICK_CASES = [
    ("fib", 30, "fib(30)"),
    ("nqueens", 11, "nqueens(11)"),
    ("msort", 1_000_000, "mergesort 10^6"),
    ("tiny", 1_000_000, "tiny batch 10^6"),
    ("spin", 2_000, "50 us batch 2*10^3"),
]
# Callgrind cases: (kernel, small n, large n).
FULL_CALLGRIND = [("fib", 20, 25), ("tiny", 10_000, 100_000)]
QUICK_CALLGRIND = [("fib", 18, 22)]

# The cancellation suite: sizes and its kernels' names (for --kernels).
CANCEL_KERNELS = ["checkpoint", "skip", "fibck", "early_exit"]
CANCEL_FULL = dict(
    ckpt_n=100_000_000, skip_n=4096, skip_rounds=1000, fib_n=30, fib_pairs=3,
    exits=[(10_000, True, "50 us x 10^4"), (1_000_000, False, "tiny x 10^6")],
    cg_ckpt=(1_000_000, 4_000_000), cg_skip=(10, 30), cg_fib=(18, 22))
CANCEL_QUICK = dict(
    ckpt_n=20_000_000, skip_n=4096, skip_rounds=250, fib_n=30, fib_pairs=2,
    exits=[(2_000, True, "50 us x 2*10^3"), (1_000_000, False, "tiny x 10^6")],
    cg_ckpt=(1_000_000, 2_000_000), cg_skip=(10, 20), cg_fib=(18, 20))
CKPT_VARIANTS = [
    ("empty", "empty loop"),
    ("call", "`if (tg_cancelled()) break;`"),
    ("fn", "`if ((tg_cancelled)()) break;` (out of line)"),
    ("macro", "`TG_CHECKPOINT();`"),
    ("every64", "`TG_CHECKPOINT();` every 64th iteration"),
]

# The blocking suite (--suite blocking only): its kernels and sizes.
BLOCKING_KERNELS = ["sleepy", "barrier"]
BLOCKING_FULL = dict(workers=(2, 4, 8), sleepy_n=8, sleep_ms=100,
                     rounds=10_000)
BLOCKING_QUICK = dict(workers=(2, 4, 8), sleepy_n=8, sleep_ms=50,
                      rounds=2_000)

LINE_RE = re.compile(r"(\w+)=(\S+)")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_lines(text):
    rows = []
    for line in text.splitlines():
        if not line.startswith("kernel="):
            continue
        rows.append(dict(LINE_RE.findall(line)))
    return rows


def cpu_busy(interval=0.5):
    """Fraction of all CPUs busy (not idle, not iowait) over interval s."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + (v[4] if len(v) > 4 else 0)
    try:
        t0, i0 = sample()
        time.sleep(interval)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 0.0 if t1 == t0 else 1.0 - (i1 - i0) / (t1 - t0)


class Runner:
    def __init__(self, build_dir, timeout, raw, wait_idle=0.0):
        self.build_dir = build_dir
        self.timeout = timeout
        self.raw = raw
        self.wait_idle = wait_idle
        self.busy_runs = 0
        self.have_taskset = shutil.which("taskset") is not None

    def settle(self):
        """Waits (up to wait_idle s) until other processes leave the CPUs
        idle; returns False if they never did (the timing is flagged)."""
        if self.wait_idle <= 0:
            return True
        deadline = time.monotonic() + self.wait_idle
        while True:
            busy = cpu_busy()
            if busy < 0.15:
                return True
            if time.monotonic() > deadline:
                self.raw.write(f"# machine busy ({busy:.0%}) before run\n")
                self.busy_runs += 1
                return False
            time.sleep(2)

    def binary(self, kernel, impl):
        prog = IMPL_PROGRAM.get(impl, impl)
        return os.path.join(self.build_dir, f"bench_{kernel}_{prog}")

    def available(self, kernel, impl):
        if impl in IMPL_KERNELS and kernel not in IMPL_KERNELS[impl]:
            return False
        p = self.binary(kernel, impl)
        return os.path.isfile(p) and os.access(p, os.X_OK)

    def run(self, kernel, impl, n, threads, reps, warmup=1, spin=None,
            prefix=None, pin=True, extra=None, env_extra=None, cpus=None):
        """Runs one configuration; returns (rows, error string or None).
        extra: more arguments; env_extra: more environment variables;
        cpus: the CPUs for taskset when pinned (default 0 .. threads-1)."""
        cmd = [self.binary(kernel, impl), "--n", str(n), "--threads",
               str(threads), "--reps", str(reps), "--warmup", str(warmup)]
        if spin is not None:
            cmd += ["--spin", str(spin)]
        if extra:
            cmd += extra
        env = dict(os.environ)
        if env_extra:
            env.update(env_extra)
        if pin:
            cmd.append("--pin")
            if impl in ("gomp", "iomp"):
                env["OMP_PROC_BIND"] = "close"
                env["OMP_PLACES"] = "threads"
            cpus = ",".join(str(c) for c in (cpus if cpus is not None
                                             else range(threads)))
            if self.have_taskset:
                cmd = ["taskset", "-c", cpus] + cmd
        if prefix:
            cmd = prefix + cmd
        quiet = True if prefix else self.settle()
        self.raw.write("$ " + " ".join(cmd) + "\n")
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                               timeout=self.timeout)
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            if isinstance(out, bytes):
                out = out.decode(errors="replace")
            self.raw.write(out + f"# TIMEOUT after {self.timeout}s\n")
            return parse_lines(out), f"timeout {self.timeout}s"
        self.raw.write(p.stdout)
        if p.stderr:
            self.raw.write("# stderr: " + p.stderr.replace("\n", "\n# ")
                           + "\n")
        self.raw.flush()
        rows = parse_lines(p.stdout)
        for r in rows:
            r["quiet"] = quiet
        if p.returncode != 0:
            tail = p.stderr.strip().splitlines()[-3:]
            return rows, f"exit {p.returncode}: " + " | ".join(tail)
        if any(r.get("ok") != "1" for r in rows):
            return rows, "wrong result"
        return rows, None


def median_ms(rows):
    return statistics.median(float(r["time_ms"]) for r in rows)


def fmt(x, digits=1):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}" if digits >= 1 else f"{x:.0f}"
    return f"{x:.{max(digits, 2)}f}"


def calibrate_spin(runner):
    runner.settle()
    p = subprocess.run(
        (["taskset", "-c", "0"] if runner.have_taskset else [])
        + [runner.binary("spin", "serial"), "--calibrate"],
        capture_output=True, text=True, timeout=60)
    m = re.search(r"spin_iters=(\d+)", p.stdout)
    if not m:
        raise SystemExit("spin calibration failed: " + p.stdout + p.stderr)
    return int(m.group(1))


def callgrind_instructions(runner, kernel, impl, n, extra=None, toggle=None):
    """Total instructions (all threads) of one run, 1 worker, no warm-up;
    with toggle, only those inside that function (--toggle-collect)."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        prefix = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
        if toggle:
            prefix.append("--toggle-collect=" + toggle)
        rows, err = runner.run(kernel, impl, n, 1, 1, warmup=0, prefix=prefix,
                               pin=False, extra=extra)
        if err:
            return None, err
        total = None
        with open(out) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    total = int(line.split()[1])
        if total is None:
            return None, "no totals in callgrind output"
        return (total, int(rows[0]["spawns"]), rows[0].get("cc", "?")), None


# ------------------------------------------------------------ cancellation


def med(rows, key):
    return statistics.median(float(r[key]) for r in rows)


def low(rows, key):
    return min(float(r[key]) for r in rows)


def noisy(rows):
    return any(not r.get("quiet", True) for r in rows)


def run_cancel(runner, cfg, kernels, impls, reps, spin, problems,
               callgrind):
    """The cancellation suite; returns what render_cancel prints."""
    out = dict(cfg=cfg, spin=spin)
    tg = "tg" in impls

    def go(label, kernel, impl, n, threads, **kw):
        rows, err = runner.run(kernel, impl, n, threads, reps, **kw)
        if err:
            problems.append(f"{label} {IMPL_NAME.get(impl, impl)} "
                            f"{threads} worker(s): {err}")
            log(f"   {impl} {threads}w: {err}")
            return None
        return rows

    if "checkpoint" in kernels and tg and runner.available(
            "cancel_checkpoint", "tg"):
        log(f"== cancel: checkpoint, n={cfg['ckpt_n']}")
        ck = {}
        for threads in (1, 2):
            rows = go("checkpoint", "cancel_checkpoint", "tg",
                      cfg["ckpt_n"], threads)
            if not rows:
                continue
            for v, _ in CKPT_VARIANTS:
                vr = [r for r in rows if r["kernel"] == "ckpt_" + v]
                if vr:
                    ck[v, threads] = dict(med=med(vr, "ns_per_iter"),
                                          min=low(vr, "ns_per_iter"),
                                          busy=noisy(vr))
            log(f"   {threads}w: " + ", ".join(
                f"{v} {ck[v, threads]['med']:.2f}" for v, _ in CKPT_VARIANTS
                if (v, threads) in ck) + " ns/iter")
        out["checkpoint"] = ck

    if "skip" in kernels and tg and runner.available("cancel_skip", "tg"):
        log(f"== cancel: skip, n={cfg['skip_n']} x {cfg['skip_rounds']}")
        rows = go("skip", "cancel_skip", "tg", cfg["skip_n"], 1,
                  extra=["--rounds", str(cfg["skip_rounds"])])
        if rows:
            sk = {}
            for v in ("skip", "run"):
                vr = [r for r in rows if r["kernel"] == v]
                total = [dict(t=float(r["time_ms"]) * 1e6 / int(r["spawns"]))
                         for r in vr]
                sk[v] = dict(spawn=med(vr, "spawn_ns"),
                             join=med(vr, "join_ns"),
                             join_min=low(vr, "join_ns"),
                             total=med(total, "t"),
                             ran=max(int(r["ran"]) for r in vr),
                             children=int(vr[0]["spawns"]), busy=noisy(vr))
                log(f"   {v}: spawn {sk[v]['spawn']:.2f} join "
                    f"{sk[v]['join']:.2f} ns/child")
            out["skip"] = sk

    if "fibck" in kernels and tg and runner.available("fibck", "tg") \
            and runner.available("fib", "tg"):
        n = cfg["fib_n"]
        log(f"== cancel: fib({n}) with a checkpoint per task")
        fk = {}
        # The two programs alternated, fib_pairs times, rows pooled: a
        # difference of a few per cent needs both to see the same drift.
        pooled = {}
        for _ in range(cfg["fib_pairs"]):
            for kernel in ("fib", "fibck"):
                for threads in (1, 2):
                    rows = go(f"fib({n})", kernel, "tg", n, threads)
                    if rows:
                        pooled.setdefault((kernel, threads), []).extend(rows)
        for (kernel, threads), rows in pooled.items():
            fk[kernel, threads] = dict(med=median_ms(rows),
                                       min=low(rows, "time_ms"),
                                       tasks=int(rows[0]["spawns"]) + 1,
                                       busy=noisy(rows), runs=len(rows))
            log(f"   {kernel} {threads}w: {fk[kernel, threads]['med']:.2f} ms")
        out["fibck"] = fk

    if "early_exit" in kernels:
        ex = []
        for n, is_spin, label in cfg["exits"]:
            log(f"== cancel: early exit, {label}")
            k = spin if is_spin else None
            base = {}
            for sname in ("serial", "serial2"):
                if not runner.available("early_exit", sname):
                    continue
                rows = go(f"early exit {label}", "early_exit", sname, n, 1,
                          spin=k)
                if not rows:
                    continue
                b = dict(t=median_ms(rows), min=low(rows, "time_ms"),
                         started=med(rows, "started"), busy=noisy(rows),
                         cc=rows[0].get("cc", "?"))
                base.setdefault("main", b)
                base[b["cc"]] = b
                log(f"   {sname} ({b['cc']}): {b['t']:.3f} ms, "
                    f"{b['started']:.0f} started")
            for cc, b in base.items():
                if cc != "main":
                    ex.append(dict(label=label, impl="serial", n=n, cc=cc,
                                   base=b))
            for impl in impls:
                if not runner.available("early_exit", impl):
                    continue
                env = ({"OMP_CANCELLATION": "true"}
                       if impl in ("gomp", "iomp") else None)
                res = dict(label=label, impl=impl, n=n)
                for threads in (1, 2):
                    rows = go(f"early exit {label}", "early_exit", impl, n,
                              threads, spin=k, env_extra=env)
                    if not rows:
                        res[f"err{threads}"] = True
                        continue
                    res[threads] = dict(
                        t=median_ms(rows), min=low(rows, "time_ms"),
                        started=med(rows, "started"),
                        started_min=low(rows, "started"),
                        started_max=max(int(r["started"]) for r in rows),
                        cancellation=min(int(r.get("cancellation", 1))
                                         for r in rows),
                        busy=noisy(rows))
                    res["cc"] = rows[0].get("cc", "?")
                    log(f"   {impl} {threads}w: {res[threads]['t']:.3f} ms, "
                        f"{res[threads]['started']:.0f} started")
                res["base"] = base.get(res.get("cc")) or base.get("main")
                ex.append(res)
        out["early"] = ex

    if callgrind:
        out["cg"] = cancel_callgrind(runner, cfg, kernels, tg, problems)
    return out


def cancel_callgrind(runner, cfg, kernels, tg, problems):
    """Instruction counts of the checkpoint, the skip and fib's checkpoint
    per task, each differenced over two sizes (start-up cancels)."""
    cg = {}
    if not tg:
        return cg

    def count(kernel, n, extra=None, toggle=None):
        v, err = callgrind_instructions(runner, kernel, "tg", n, extra,
                                        toggle)
        if err:
            problems.append(f"callgrind {kernel} {extra or ''}: {err}")
            return None
        return v[0]

    if "checkpoint" in kernels and runner.available("cancel_checkpoint",
                                                    "tg"):
        log("== callgrind: checkpoint")
        na, nb = cfg["cg_ckpt"]
        per = {}
        for v, _ in CKPT_VARIANTS:
            # Inside the loop's own function (loop_<variant>) only.
            ia = count("cancel_checkpoint", na, ["--variant", v],
                       toggle="loop_" + v)
            ib = count("cancel_checkpoint", nb, ["--variant", v],
                       toggle="loop_" + v)
            if ia is not None and ib is not None:
                per[v] = (ib - ia) / (nb - na)
        cg["checkpoint"] = dict(per=per, na=na, nb=nb)
        log("   " + ", ".join(f"{v} {x:.2f}" for v, x in per.items())
            + " instr/iter")

    if "skip" in kernels and runner.available("cancel_skip", "tg"):
        log("== callgrind: skip")
        ra, rb = cfg["cg_skip"]
        n = cfg["skip_n"]
        sk = {}
        for v in ("skip", "run"):
            got = {}
            # Inside tg_spawn_at and tg_group_join only: deterministic
            # (the waiting main thread's spinning is left out).
            for toggle in ("tg_spawn_at", "tg_group_join"):
                ia = count("cancel_skip", n, ["--variant", v, "--rounds",
                                              str(ra)], toggle)
                ib = count("cancel_skip", n, ["--variant", v, "--rounds",
                                              str(rb)], toggle)
                if ia is not None and ib is not None:
                    got[toggle] = (ib - ia) / (n * (rb - ra))
            sk[v] = got
            log(f"   {v}: " + ", ".join(f"{k} {x:.1f}"
                                        for k, x in got.items())
                + " instr/child")
        cg["skip"] = dict(per=sk, ra=ra, rb=rb, n=n)

    if "fibck" in kernels and runner.available("fibck", "tg"):
        log("== callgrind: fib with checkpoints")
        na, nb = cfg["cg_fib"]
        tot = {}
        for kernel in ("fib", "fibck"):
            # Only inside the tasks: the thread waiting in tg_runner_run
            # spins a varying number of times, which would not cancel.
            ia = count(kernel, na, toggle="fib_task")
            ib = count(kernel, nb, toggle="fib_task")
            if ia is not None and ib is not None:
                tot[kernel] = ib - ia
        if len(tot) == 2:
            # Tasks = spawns + 1 (the root); the root cancels in the
            # difference.
            dt = fib_tasks(nb) - fib_tasks(na)
            cg["fibck"] = dict(na=na, nb=nb,
                               per_task=(tot["fibck"] - tot["fib"]) / dt)
            log(f"   {cg['fibck']['per_task']:.2f} instr per checkpoint")
    return cg


def fib_tasks(n):
    """Tasks of the parallel fib(n): every node of the call tree."""
    a, b = 0, 1
    for _ in range(n + 1):
        a, b = b, a + b
    return 2 * a - 1   # 2 F(n+1) - 1


def render_cancel(c, reps):
    """The cancellation section of the report."""
    cfg = c["cfg"]
    cg = c.get("cg", {})
    L = ["", "## Cancellation", ""]
    L.append(f"Median of {reps} timed runs (min in parentheses), pinned as "
             f"above; * = started on a busy machine.")

    ck = c.get("checkpoint")
    if ck:
        L += ["", f"Checkpoint cost: a loop of {cfg['ckpt_n']:,} iterations "
              "in a child task of an open group, timed inside the task. "
              "Net = the variant minus the empty loop.", ""]
        cgk = cg.get("checkpoint", {})
        L.append("| loop | 1 worker ns/iter | net ns/iter | "
                 "2 workers ns/iter | net ns/iter | instr/iter "
                 "(callgrind) | net instr/iter |")
        L.append("|---|--:|--:|--:|--:|--:|--:|")
        per = cgk.get("per", {})
        for v, label in CKPT_VARIANTS:
            row = [label]
            for threads in (1, 2):
                x = ck.get((v, threads))
                e = ck.get(("empty", threads))
                if not x:
                    row += ["-", "-"]
                    continue
                flag = " *" if x["busy"] else ""
                row.append(f"{x['med']:.3f} ({x['min']:.3f}){flag}")
                row.append("-" if v == "empty" or not e
                           else f"{x['med'] - e['med']:.3f}")
            ci = per.get(v)
            row.append("-" if ci is None else f"{ci:.2f}")
            row.append("-" if ci is None or v == "empty" or "empty" not in per
                       else f"{ci - per['empty']:.2f}")
            L.append("| " + " | ".join(row) + " |")
        if per:
            L += ["", f"Instructions per iteration: callgrind inside the "
                  f"loop's function (--toggle-collect=loop_<variant>), "
                  f"1 worker, differenced over n = {cgk['na']:,} -> "
                  f"{cgk['nb']:,}."]

    sk = c.get("skip")
    if sk:
        n, rounds = cfg["skip_n"], cfg["skip_rounds"]
        L += ["", f"Skipped children: {rounds} rounds of {n} children "
              "spawned into a fail-fast group by one task, 1 worker; spawn "
              "and join phases timed inside the task, per child.", ""]
        L.append("| round | spawn ns/child | join ns/child (min) "
                 "| whole round ns/child | bodies run | spawn instr/child "
                 "| join instr/child |")
        L.append("|---|--:|--:|--:|--:|--:|--:|")
        cgs = cg.get("skip", {}).get("per", {})
        names = {"skip": "spawn N, `tg_group_cancel`, join (all skipped)",
                 "run": "spawn N, join (no-op children run)"}
        for v in ("skip", "run"):
            x = sk[v]
            g = cgs.get(v, {})
            flag = " *" if x["busy"] else ""
            L.append(f"| {names[v]}{flag} | {x['spawn']:.2f} | "
                     f"{x['join']:.2f} ({x['join_min']:.2f}) | "
                     f"{x['total']:.2f} | {x['ran']:,} of "
                     f"{x['children']:,} | "
                     + " | ".join("-" if k not in g else f"{g[k]:.1f}"
                                  for k in ("tg_spawn_at", "tg_group_join"))
                     + " |")

    fk = c.get("fibck")
    if fk:
        n = cfg["fib_n"]
        L += ["", f"fib({n}) with `TG_CHECKPOINT()` at the top of every "
              f"task against the plain fib({n}), the programs alternated "
              f"{cfg['fib_pairs']} times (rows pooled).", ""]
        L.append("| program | 1 worker ms (min) | 2 workers ms (min) "
                 "| speedup | extra ns per task, 1w / 2w |")
        L.append("|---|--:|--:|--:|--:|")
        for kernel, label in (("fib", f"fib({n})"),
                              ("fibck", f"fib({n}) + checkpoints")):
            a, b = fk.get((kernel, 1)), fk.get((kernel, 2))
            if not a:
                continue
            flag = " *" if a["busy"] or (b and b["busy"]) else ""
            row = [label + flag, f"{fmt(a['med'], 2)} ({fmt(a['min'], 2)})",
                   "-" if not b else f"{fmt(b['med'], 2)} "
                                     f"({fmt(b['min'], 2)})",
                   "-" if not b else f"{a['med'] / b['med']:.2f}"]
            if kernel == "fibck" and ("fib", 1) in fk:
                d = []
                for t in (1, 2):
                    p, q = fk.get(("fib", t)), fk.get(("fibck", t))
                    d.append("-" if not p or not q else
                             f"{(q['med'] - p['med']) * 1e6 / q['tasks']:.2f}")
                row.append(" / ".join(d))
            else:
                row.append("-")
            L.append("| " + " | ".join(row) + " |")
        if cg.get("fibck"):
            f = cg["fibck"]
            L += ["", f"callgrind (inside the tasks, --toggle-collect="
                  f"fib_task), fib {f['na']} -> {f['nb']} differenced: "
                  f"{f['per_task']:.2f} more instructions per task with the "
                  f"checkpoint."]

    ex = c.get("early")
    if ex:
        L += ["", "Early exit: task n/10 fails (fail-fast group; OpenMP "
              "`cancel taskgroup`; oneTBB `task_group::cancel`). "
              "x serial = time / the serial loop that stops at the failure "
              "(same compiler); started = bodies that began (median).", ""]
        L.append("| batch | impl | 1 worker ms (min) | x serial | started "
                 "| 2 workers ms (min) | x serial | started | cc |")
        L.append("|---|---|--:|--:|--:|--:|--:|--:|---|")
        for r in ex:
            b = r.get("base")
            if r["impl"] == "serial":
                if not b:
                    continue
                flag = " *" if b["busy"] else ""
                L.append(f"| {r['label']} | serial ({b['cc']}){flag} | "
                         f"{fmt(b['t'], 2)} ({fmt(b['min'], 2)}) | 1.00 | "
                         f"{b['started']:,.0f} | - | - | - | {b['cc']} |")
                continue
            row = [r["label"], IMPL_NAME[r["impl"]]]
            busy = False
            for threads in (1, 2):
                x = r.get(threads)
                if not x:
                    row += ["**failed**", "-", "-"]
                    continue
                busy = busy or x["busy"]
                row.append(f"{fmt(x['t'], 2)} ({fmt(x['min'], 2)})")
                row.append("-" if not b else f"{x['t'] / b['t']:.2f}")
                s = f"{x['started']:,.0f}"
                if x["started_min"] != x["started_max"]:
                    s += f" ({x['started_min']:,.0f}-{x['started_max']:,})"
                if not x["cancellation"]:
                    s += " (cancellation off)"
                row.append(s)
            if busy:
                row[1] += " *"
            row.append(r.get("cc", "?"))
            L.append("| " + " | ".join(row) + " |")
    return L


# ---------------------------------------------------------------- blocking


def blocking_cpus(threads):
    """CPUs 0 .. threads-1, or every usable CPU when there are fewer."""
    try:
        usable = sorted(os.sched_getaffinity(0))
    except AttributeError:
        usable = list(range(os.cpu_count() or 1))
    return list(range(threads)) if threads <= len(usable) else usable


def run_blocking(runner, cfg, kernels, impls, reps, problems):
    """The blocking suite; returns what render_blocking prints."""
    out = dict(cfg=cfg)

    def go(label, kernel, impl, n, threads, extra):
        rows, err = runner.run(kernel, impl, n, threads, reps, extra=extra,
                               cpus=blocking_cpus(threads))
        if err:
            problems.append(f"{label} {IMPL_NAME.get(impl, impl)} "
                            f"{threads} worker(s): {err}")
            log(f"   {impl} {threads}w: {err}")
            return None
        return rows

    if "sleepy" in kernels:
        n, ms = cfg["sleepy_n"], cfg["sleep_ms"]
        label = f"sleepy {n} x {ms} ms"
        log(f"== blocking: {label}")
        extra = ["--sleep-ms", str(ms)]
        sl = []
        for impl in ["serial", "serial2"] + impls:
            if not runner.available("sleepy", impl):
                continue
            res = dict(impl=impl)
            for threads in ((1,) if impl.startswith("serial")
                            else cfg["workers"]):
                rows = go(label, "sleepy", impl, n, threads, extra)
                if not rows:
                    res[threads] = None
                    continue
                res["cc"] = rows[0].get("cc", "?")
                res[threads] = dict(
                    t=median_ms(rows), min=low(rows, "time_ms"),
                    os=max(int(r["os_threads"]) for r in rows),
                    busy=noisy(rows))
                log(f"   {impl} {threads}w: {res[threads]['t']:.1f} ms, "
                    f"{res[threads]['os']} threads")
            sl.append(res)
        out["sleepy"] = sl

    if "barrier" in kernels:
        rounds = cfg["rounds"]
        log(f"== blocking: barrier, {rounds} rounds")
        br = []
        # (impl, parties per worker): parties > workers is taskgroup only.
        cases = [(impl, 1) for impl in impls]
        if "tg" in impls:
            cases.append(("tg", 2))
        for impl, mult in cases:
            if not runner.available("barrier", impl):
                continue
            res = dict(impl=impl, mult=mult)
            label = f"barrier parties = {mult} x workers"
            for threads in cfg["workers"]:
                rows = go(label, "barrier", impl, rounds, threads,
                          ["--parties", str(mult * threads)])
                if not rows:
                    res[threads] = None
                    continue
                res["cc"] = rows[0].get("cc", "?")
                res[threads] = dict(
                    ns=med(rows, "ns_per_round"),
                    min=low(rows, "ns_per_round"),
                    os=max(int(r["os_threads"]) for r in rows),
                    busy=noisy(rows))
                log(f"   {impl} P={mult * threads} {threads}w: "
                    f"{res[threads]['ns']:.0f} ns/round, "
                    f"{res[threads]['os']} threads")
            br.append(res)
        out["barrier"] = br
    return out


def render_blocking(c, reps):
    """The blocking section of the report."""
    cfg = c["cfg"]
    ws = cfg["workers"]
    L = ["", "## Blocking", ""]
    L.append(f"Median of {reps} timed runs (min in parentheses); w workers "
             f"pinned to CPUs 0 .. w-1, or to every usable CPU when w is "
             f"more than there are; threads = the most distinct threads "
             f"seen in a run (that ran a child, or that were parties); "
             f"* = started on a busy machine.")

    sl = c.get("sleepy")
    if sl:
        n, ms = cfg["sleepy_n"], cfg["sleep_ms"]
        L += ["", f"Sleepy batch: one task spawns {n} children into one "
              f"group (OpenMP: tasks from `single`; oneTBB: `task_group`), "
              f"each blocks {ms} ms in a plain `nanosleep` (no checkpoint, "
              f"no blocking region); taskgroup (tg_sleep) sleeps with "
              f"`tg_sleep` instead.  Best case {ms} ms (all at once); a "
              f"fixed pool of w threads takes ceil({n}/w) x {ms} ms; the "
              f"serial loop {n} x {ms} ms.", ""]
        L.append("| impl | " + " | ".join(
            f"{w} workers ms (min) | threads" for w in ws) + " |")
        L.append("|---|" + "--:|--:|" * len(ws))
        L.append("| fixed pool: ceil(n/w) x T | " + " | ".join(
            f"{-(-n // w) * ms} | {w}" for w in ws) + " |")
        for r in sl:
            if r["impl"].startswith("serial"):
                x = r.get(1)
                if not x:
                    continue
                flag = " *" if x["busy"] else ""
                L.append(f"| serial ({r.get('cc', '?')}, 1 thread){flag} | "
                         f"{fmt(x['t'], 1)} ({fmt(x['min'], 1)}) | 1 | "
                         + " | ".join("-" for _ in range(2 * len(ws) - 2))
                         + " |")
                continue
            row, busy = [], False
            for w in ws:
                x = r.get(w)
                if not x:
                    row += ["**failed**", "-"]
                    continue
                busy = busy or x["busy"]
                row += [f"{fmt(x['t'], 1)} ({fmt(x['min'], 1)})",
                        str(x["os"])]
            name = IMPL_NAME.get(r["impl"], r["impl"]) + (" *" if busy
                                                         else "")
            L.append(f"| {name} | " + " | ".join(row) + " |")

    br = c.get("barrier")
    if br:
        L += ["", f"Barrier round trips: P parties each wait "
              f"{cfg['rounds']:,} rounds (after one untimed round); "
              f"ns per round timed by party 0.  taskgroup: "
              f"`tg_barrier_wait`, P children of one group; "
              f"pthread_barrier_t: P plain threads; OpenMP: `omp barrier` "
              f"in a parallel region of P threads (default wait policy).  "
              f"P = 2 x workers is taskgroup only: a pthread or OpenMP "
              f"barrier holds a thread per party.", ""]
        L.append("| parties | impl | " + " | ".join(
            f"{w} workers ns/round (min) | threads" for w in ws) + " |")
        L.append("|---|---|" + "--:|--:|" * len(ws))
        for r in br:
            row, busy = [], False
            for w in ws:
                x = r.get(w)
                if not x:
                    row += ["**failed**", "-"]
                    continue
                busy = busy or x["busy"]
                row += [f"{x['ns']:,.0f} ({x['min']:,.0f})", str(x["os"])]
            name = IMPL_NAME.get(r["impl"], r["impl"]) + (" *" if busy
                                                         else "")
            parties = ("workers" if r["mult"] == 1
                       else f"{r['mult']} x workers")
            L.append(f"| {parties} | {name} | " + " | ".join(row) + " |")
    return L


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build-dir", default="build-bench")
    ap.add_argument("--reps", type=int, default=None,
                    help="timed repetitions per configuration (default 5; "
                         "3 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="smaller sizes, fewer reps, fib(30) only")
    ap.add_argument("--kernels", default=None,
                    help="comma list among fib,nqueens,msort,tiny,spin "
                         "and (cancellation suite) " + ",".join(CANCEL_KERNELS)
                         + " and (blocking suite) "
                         + ",".join(BLOCKING_KERNELS))
    ap.add_argument("--suite", default="all",
                    choices=["all", "forkjoin", "cancel", "blocking"],
                    help="fork-join kernels, cancellation benchmarks, or "
                         "both (default); blocking: the blocking "
                         "benchmarks (sleepy, barrier), alone")
    ap.add_argument("--impls", default=None,
                    help="comma list among " + ",".join(IMPL_ORDER[1:]))
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--wait-idle", type=float, default=60,
                    help="before each timed program, wait up to this many "
                         "seconds for the CPUs to be idle (0: never wait); "
                         "runs that start on a busy machine are flagged")
    ap.add_argument("--timeout", type=int, default=300,
                    help="seconds per program run")
    ap.add_argument("--out", default=None,
                    help="Markdown output (default BUILD_DIR/results.md)")
    args = ap.parse_args()

    reps = args.reps or (3 if args.quick else 5)
    cases = QUICK_CASES if args.quick else FULL_CASES
    cg_cases = QUICK_CALLGRIND if args.quick else FULL_CALLGRIND
    cancel_kernels = list(CANCEL_KERNELS)
    blocking_kernels = []
    if args.suite == "cancel":
        cases, cg_cases = [], []
    if args.suite == "forkjoin":
        cancel_kernels = []
    if args.suite == "blocking":
        cases, cg_cases, cancel_kernels = [], [], []
        blocking_kernels = list(BLOCKING_KERNELS)
    if args.kernels:
        ks = set(args.kernels.split(","))
        cases = [c for c in cases if c[0] in ks]
        cg_cases = [c for c in cg_cases if c[0] in ks]
        cancel_kernels = [k for k in cancel_kernels if k in ks]
        blocking_kernels = [k for k in blocking_kernels if k in ks]
    impls = IMPL_ORDER[1:]
    if args.impls:
        impls = [i for i in impls if i in args.impls.split(",")]

    out_path = args.out or os.path.join(args.build_dir, "results.md")
    raw_path = os.path.splitext(out_path)[0] + ".raw.txt"
    raw = open(raw_path, "w")
    runner = Runner(args.build_dir, args.timeout, raw, args.wait_idle)
    if not (runner.available("fib", "serial")
            or runner.available("early_exit", "serial")
            or runner.available("sleepy", "serial")):
        raise SystemExit(f"no benchmark programs in {args.build_dir}: "
                         "run bench/run.sh (it builds them)")

    started = datetime.datetime.now()
    spin = None
    if args.suite != "blocking":   # the blocking suite has no spin batch
        spin = calibrate_spin(runner)
        log(f"spin: {spin} LCG steps per task = ~50 us")

    results = []   # one dict per (case, impl)
    serials = []   # the serial baselines, per compiler
    busy_serial = set()
    problems = []
    for kernel, n, label in cases:
        spin_arg = spin if kernel == "spin" else None
        log(f"== {label}")
        # Serial baselines, one per compiler (serial2: the other one).
        base = {}
        for sname in ("serial", "serial2"):
            if not runner.available(kernel, sname):
                continue
            rows, err = runner.run(kernel, sname, n, 1, reps, spin=spin_arg)
            if err:
                problems.append(f"{label} {sname}: {err}")
                log(f"   {sname}: {err}")
                continue
            if not all(r["quiet"] for r in rows):
                busy_serial.add(label)
            b = dict(ts=median_ms(rows),
                     rss=max(int(r["maxrss_kb"]) for r in rows),
                     spawns=int(rows[0]["spawns"]), cc=rows[0].get("cc", "?"))
            base.setdefault("main", b)
            base[b["cc"]] = b
            log(f"   {sname} ({b['cc']}): {b['ts']:.2f} ms")
        if not base:
            continue
        for cc, b in base.items():
            if cc != "main":
                serials.append(dict(label=label, cc=cc, ts=b["ts"],
                                    rss=b["rss"]))
        for impl in impls:
            if not runner.available(kernel, impl):
                continue
            b = base["main"]
            res = dict(label=label, impl=impl, ts=b["ts"], t1=None, t2=None,
                       min1=None, min2=None,
                       spawns=b["spawns"], rss1=None, rss2=None,
                       rss_s=b["rss"], err=None, cc=b["cc"])
            for threads in (1, 2):
                rows, err = runner.run(kernel, impl, n, threads, reps,
                                       spin=spin_arg)
                if err:
                    res["err"] = f"{threads}w: {err}"
                    problems.append(f"{label} {IMPL_NAME[impl]} "
                                    f"{threads} worker(s): {err}")
                    log(f"   {impl} {threads}w: {err}")
                    break
                cc = rows[0].get("cc", "?")
                if cc in base and cc != res["cc"]:
                    # Compare with the baseline of the same compiler.
                    res.update(ts=base[cc]["ts"], rss_s=base[cc]["rss"],
                               cc=cc)
                t = median_ms(rows)
                rss = max(int(r["maxrss_kb"]) for r in rows)
                res["min%d" % threads] = min(float(r["time_ms"])
                                             for r in rows)
                if not all(r["quiet"] for r in rows):
                    res["busy"] = True
                res["t%d" % threads] = t
                res["rss%d" % threads] = rss
                log(f"   {impl} {threads}w: {t:.2f} ms")
            results.append(res)

    cg = []
    if not args.no_callgrind and shutil.which("valgrind"):
        for kernel, na, nb in cg_cases:
            log(f"== callgrind {kernel} n={na},{nb}")
            base = {}   # compiler -> {n: (instructions, spawns, cc)}
            for impl in ["serial", "serial2"] + impls:
                if not runner.available(kernel, impl):
                    continue
                got = {}
                err = None
                for n in (na, nb):
                    v, err = callgrind_instructions(runner, kernel, impl, n)
                    if err:
                        break
                    got[n] = v
                if err:
                    problems.append(f"callgrind {kernel} {impl}: {err}")
                    log(f"   {impl}: {err}")
                    continue
                cc = got[nb][2]
                if impl.startswith("serial"):
                    base.setdefault("main", got)
                    base[cc] = got
                    continue
                b = base.get(cc) or base.get("main")
                if not b:
                    continue
                (ia, sa, _), (ib, sb, _) = got[na], got[nb]
                ba, bb = b[na][0], b[nb][0]
                diff = ((ib - ia) - (bb - ba)) / (sb - sa)
                single = (ib - bb) / sb
                cg.append(dict(kernel=kernel, impl=impl, na=na, nb=nb,
                               diff=diff, single=single, total=ib,
                               serial=bb, spawns=sb, cc=cc))
                log(f"   {impl}: {diff:.1f} instr/spawn")

    cancel = None
    if cancel_kernels:
        cfg = CANCEL_QUICK if args.quick else CANCEL_FULL
        cancel = run_cancel(runner, cfg, cancel_kernels, impls, reps, spin,
                            problems, not args.no_callgrind
                            and shutil.which("valgrind") is not None)

    blocking = None
    if blocking_kernels:
        cfg = BLOCKING_QUICK if args.quick else BLOCKING_FULL
        blocking = run_blocking(runner, cfg, blocking_kernels, impls, reps,
                                problems)

    elapsed = (datetime.datetime.now() - started).total_seconds()
    report = render(results, serials, cg, problems, reps, spin, elapsed,
                    args, busy_serial, runner.busy_runs, cancel, blocking)
    print(report)
    with open(out_path, "w") as f:
        f.write(report)
    raw.close()
    log(f"wrote {out_path} and {raw_path}")
    return 1 if problems else 0


def machine_lines():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cpus = os.cpu_count()
    try:
        avail = len(os.sched_getaffinity(0))
    except AttributeError:
        avail = cpus
    def ver(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=10).stdout.splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = "?"
    return [
        f"- CPU: {model}, {cpus} online CPUs ({avail} usable); load "
        f"average at the end of the run: {load} (other processes on the "
        f"machine disturb the timings, never the instruction counts)",
        f"- kernel: {platform.system()} {platform.release()}",
        f"- gcc: {ver(['gcc', '--version'])}; clang: "
        f"{ver(['clang', '--version'])}",
    ]


def render(results, serials, cg, problems, reps, spin, elapsed, args,
           busy, busy_runs, cancel=None, blocking=None):
    L = []
    L.append(f"# taskgroup benchmarks ({datetime.date.today().isoformat()})")
    L.append("")
    L += machine_lines()
    if spin is None:   # the blocking suite alone: no spin batch
        L.append(f"- median of {reps} timed runs (1 warm-up) per "
                 f"configuration; workers pinned (taskset); total "
                 f"{elapsed:.0f} s" + (" (--quick)" if args.quick else ""))
    else:
        L.append(f"- median of {reps} timed runs (1 warm-up) per "
                 f"configuration; workers pinned (taskset -c 0 / 0,1); "
                 f"spin batch: {spin} LCG steps per task (~50 us); total "
                 f"{elapsed:.0f} s" + (" (--quick)" if args.quick else ""))
    L.append("")
    if results:
        L.append("| kernel | impl | serial ms | 1 worker ms (min) "
                 "| 2 workers ms (min) "
                 "| speedup T1/T2 | Tserial/T2 | ns/spawn (T1-Ts)/spawns "
                 "| spawns | peak RSS MiB 1w / 2w (serial) | cc |")
        L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
        for r in results:
            if r["impl"] == "serial":
                continue
            t1, t2, ts = r["t1"], r["t2"], r["ts"]
            sp = t1 / t2 if t1 and t2 else None
            sps = ts / t2 if t2 else None
            ns = ((t1 - ts) * 1e6 / r["spawns"] if t1 and r["spawns"]
                  else None)
            rss = "-"
            if r["rss1"]:
                rss = f"{r['rss1'] / 1024:.1f}"
                if r["rss2"]:
                    rss += f" / {r['rss2'] / 1024:.1f}"
                rss += f" ({r['rss_s'] / 1024:.1f})"
            def with_min(t, key):
                if t is None:
                    return "-"
                return f"{fmt(t, 2)} ({fmt(r.get(key), 2)})"
            flag = " *" if r.get("busy") or r["label"] in busy else ""
            row = [r["label"], IMPL_NAME[r["impl"]] + flag, fmt(ts, 2),
                   with_min(t1, "min1"), with_min(t2, "min2"), fmt(sp, 2),
                   fmt(sps, 2), fmt(ns, 1),
                   str(r["spawns"]), rss, r["cc"]]
            if r["err"]:
                row[4] = "**" + r["err"].replace("|", "/") + "**"
            L.append("| " + " | ".join(row) + " |")
    if busy_runs:
        L.append("")
        L.append(f"\\* {busy_runs} program run(s) started while other "
                 f"processes kept the CPUs busy (after waiting "
                 f"{args.wait_idle:.0f} s): rows marked * (their own or their "
                 f"serial baseline's timing) are disturbed.")
    if serials:
        L.append("")
        L.append("Serial baselines: "
                 + "; ".join(f"{s['label']} {s['cc']} {fmt(s['ts'], 2)} ms"
                             for s in serials) + ".")
    if cg:
        L.append("")
        L.append("Instructions per spawn+join (valgrind --tool=callgrind, "
                 "1 worker, all threads counted):")
        L.append("")
        L.append("| kernel | impl | sizes | instr/spawn (differenced) "
                 "| instr/spawn (one size, incl. start-up) | cc |")
        L.append("|---|---|---|--:|--:|---|")
        for c in cg:
            L.append(f"| {c['kernel']} | {IMPL_NAME[c['impl']]} | "
                     f"{c['na']} -> {c['nb']} | {c['diff']:.1f} | "
                     f"{c['single']:.1f} | {c['cc']} |")
    if cancel:
        L += render_cancel(cancel, reps)
    if blocking:
        L += render_blocking(blocking, reps)
    if problems:
        L.append("")
        L.append("Problems:")
        L.append("")
        for p in problems:
            L.append(f"- {p}")
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
