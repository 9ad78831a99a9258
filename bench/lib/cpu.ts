import { readdirSync, readFileSync } from "node:fs";

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every mainstream kernel build). */
const TICKS_PER_SECOND = 100;

/** Who used the machine's CPU: the operator, the control plane, and this process (the simulator, the watches). */
export interface CpuSnapshot {
  /** CPU seconds (user + system) per role since each process started. */
  seconds: Record<string, number>;
  at: number;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cpuSeconds: number;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may hold spaces: the fields after the last ')' are space-separated.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    // After comm: state(0) ppid(1) ... utime(11) stime(12).
    return {
      pid,
      ppid: Number(fields[1]),
      comm,
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

function allProcs(): ProcInfo[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProc(Number(d)))
    .filter((p): p is ProcInfo => p !== undefined);
}

/**
 * The control plane's processes: `kube-apiserver` and `etcd` descended from this process when it started them,
 * otherwise any by that name (a cluster given with `--kubeconfig`).
 */
export function controlPlanePids(): Record<string, number[]> {
  const procs = allProcs();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const descends = (p: ProcInfo): boolean => {
    for (let cur: ProcInfo | undefined = p, hops = 0; cur && hops < 20; cur = byPid.get(cur.ppid), hops++)
      if (cur.ppid === process.pid) return true;
    return false;
  };
  const pick = (comm: string): number[] => {
    const named = procs.filter((p) => p.comm === comm);
    const ours = named.filter(descends);
    return (ours.length > 0 ? ours : named).map((p) => p.pid);
  };
  return { "kube-apiserver": pick("kube-apiserver"), etcd: pick("etcd") };
}

/** CPU seconds used so far by each role: `roles` maps a name to its pids; `bench` is this process. */
export function cpuSnapshot(roles: Record<string, number[]>): CpuSnapshot {
  const seconds: Record<string, number> = {};
  for (const [role, pids] of Object.entries(roles))
    seconds[role] = pids.reduce((s, pid) => s + (readProc(pid)?.cpuSeconds ?? 0), 0);
  const usage = process.cpuUsage();
  seconds.bench = (usage.user + usage.system) / 1e6;
  return { seconds, at: Date.now() };
}

/** CPU seconds each role used between two snapshots, the total, and the wall time, rounded to 10 ms. */
export function cpuBetween(
  before: CpuSnapshot,
  after: CpuSnapshot,
): { wallSeconds: number; total: number; byRole: Record<string, number> } {
  const byRole: Record<string, number> = {};
  let total = 0;
  for (const [role, s] of Object.entries(after.seconds)) {
    const used = Math.round((s - (before.seconds[role] ?? 0)) * 100) / 100;
    byRole[role] = used;
    total += used;
  }
  return { wallSeconds: Math.round((after.at - before.at) / 10) / 100, total: Math.round(total * 100) / 100, byRole };
}
