// Processes and their CPU, from /proc: what bench/bench.mjs, bench/coldstart.mjs and
// bench/steps.mjs read of the workerd that runs a Worker.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TCK = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

/** Every process under `pid`, children before their own children. */
export const descendants = (pid) => {
  const out = [];
  for (const c of execSync(`ps -o pid= --ppid ${pid} || true`).toString().split(/\s+/).filter(Boolean).map(Number)) out.push(c, ...descendants(c));
  return out;
};

/** A process's command name, or '' once it has ended. */
export const comm = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** The workerd under `root` that runs the Worker: the one holding the persisted state's files open. */
export function workerPid(root, stateDir) {
  const workerds = descendants(root).filter((p) => comm(p) === 'workerd');
  const holds = (pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(stateDir);
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  };
  return workerds.find(holds) ?? workerds[workerds.length - 1];
}

/**
 * Whether this kernel keeps each thread's run time in nanoseconds (/proc/PID/task/TID/schedstat);
 * where it does not, CPU is read in clock ticks from /proc/PID/stat.
 */
export const SCHEDSTAT = existsSync('/proc/self/schedstat');

/** The run time of a process's threads, in ms; a thread that has just ended counts nothing. */
export const threadsRunTime = (pid) => {
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  return tids.reduce((ms, tid) => {
    try {
      return ms + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      return ms;
    }
  }, 0);
};

/** A process's user and system CPU in ms, from clock ticks (10 ms on Linux). */
export const ticks = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const s = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(s[11]) + Number(s[12])) * 1000) / TCK;
  } catch {
    return 0;
  }
};

/** A process's CPU in ms: its threads' run time where the kernel keeps it, else clock ticks. */
export const processCpu = (pid) => (SCHEDSTAT ? threadsRunTime(pid) : ticks(pid));
