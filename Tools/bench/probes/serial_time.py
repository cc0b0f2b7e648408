"""Where a 2-thread run leaves its second thread idle: each sample of the main thread is matched with the worker
thread's nearest sample in time; where the worker was waiting (in `worker_main`, or had no sample within 2 ms),
the main thread's leaf frame is counted. Prints the share of main-thread samples with the worker idle, and the
frames that ran meanwhile.
    perf record -F 4000 -g -o /tmp/run.data .build/release/vqcodec bench --threads 2 --steps 20 --case ConvVQVAE-train
    perf script -i /tmp/run.data -F tid,time,ip,sym > /tmp/run.txt
    python3 Tools/bench/probes/serial_time.py /tmp/run.txt
"""
import bisect, collections, re, sys

samples, current = [], None
for line in open(sys.argv[1]):
    if line.strip() and not line.startswith("\t"):
        m = re.match(r"\s*(\d+)\s+([\d.]+):", line)
        current = (int(m.group(1)), float(m.group(2)), []) if m else None
        if current: samples.append(current)
    elif line.startswith("\t") and current:
        parts = line.strip().split(None, 1)
        current[2].append(parts[1] if len(parts) > 1 else "?")

busiest = [tid for tid, _ in collections.Counter(s[0] for s in samples).most_common(2)]
if len(busiest) < 2:
    sys.exit(f"serial_time.py: expected samples of two threads in {sys.argv[1]}, found {len(busiest)}; "
             "record a run with --threads 2 (see the commands above)")
main, worker = min(busiest), max(busiest)  # the main thread starts first, so it has the lower id
worker_samples = [(time, stack[0] if stack else "?") for tid, time, stack in samples if tid == worker]
worker_times = [time for time, _ in worker_samples]

idle, total = collections.Counter(), 0
for tid, time, stack in samples:
    if tid != main or not stack: continue
    total += 1
    i = bisect.bisect_left(worker_times, time)
    near = min((worker_samples[j] for j in (i - 1, i) if 0 <= j < len(worker_samples)),
               key=lambda s: abs(s[0] - time), default=None)
    if near is None or abs(near[0] - time) > 0.002 or "worker_main" in near[1]:
        frame = next((f for f in stack if any(m in f for m in ("VQEngine", "VQLayers", "VQModels"))), stack[0])
        idle[frame[:110]] += 1
print(f"main-thread samples: {total}, with the worker idle: {sum(idle.values())} "
      f"({100 * sum(idle.values()) / max(total, 1):.1f}%)")
for frame, count in idle.most_common(20):
    print(f"{count:6d} {100 * count / total:5.1f}%  {frame}")
