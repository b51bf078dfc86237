// The arithmetic of rounds of alternating turns (bench/bench.mjs `paired`), apart from the
// processes so that bench/rounds.test.mjs can check it.
//
// In each of R rounds, n processes take a turn each, in a fixed order: turn i is process
// i % n's. `at[i][p]` is process p's CPU (ms) at the start of turn i; the stamps go on past
// the last round until every process's "next turn" has started (R·n + n stamps), so each
// process's round runs from its turn's start to its next turn's start, and work it defers
// past its turn (a collection, a flush) is still its own.

/** The median of `values`: the middle one, or the mean of the two middle ones; null if none. */
export function median(values) {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** `{ median, low, high, n }` of `values`, rounded to `digits`; null if none. */
export function spread(values, digits = 3) {
  const m = median(values);
  if (m === null) return null;
  const r = (x) => +x.toFixed(digits);
  return { median: r(m), low: r(Math.min(...values)), high: r(Math.max(...values)), n: values.length };
}

/**
 * Takes `rounds` rounds of turns of `n` processes: `run(p)` runs process p's turn and resolves
 * to its result, `cpu()` reads every process's CPU (an array, by process), `wait()` idles for
 * a turn. CPU is read before the first turn and after every turn, then after as many idle
 * turns as the last processes' "next turn" needs. Gives `runs[p][r]` and `cpu[p][r]`
 * (`roundCpu`).
 */
export async function alternate({ rounds, n, run, cpu, wait }) {
  const at = [cpu()];
  const runs = Array.from({ length: n }, () => []);
  for (let r = 0; r < rounds; r++) {
    for (let p = 0; p < n; p++) {
      runs[p].push(await run(p));
      at.push(cpu());
    }
  }
  while (at.length < stampsNeeded(rounds, n)) {
    await wait();
    at.push(cpu());
  }
  return { runs, cpu: roundCpu(at, rounds, n) };
}

/** The number of CPU stamps R rounds of n processes need (see the top of this file). */
export const stampsNeeded = (rounds, n) => rounds * n + n;

/** Process p's CPU (ms) in each round: `cpu[p][r]`, from its turn r's start to its turn r+1's. */
export function roundCpu(at, rounds, n) {
  if (at.length < stampsNeeded(rounds, n)) throw new Error(`${at.length} CPU stamps for ${rounds} rounds of ${n} processes: ${stampsNeeded(rounds, n)} needed`);
  return Array.from({ length: n }, (_, p) =>
    Array.from({ length: rounds }, (_, r) => at[(r + 1) * n + p][p] - at[r * n + p][p]));
}

/**
 * Per round, the first process's CPU per operation less another's (`ops[p][r]`: its
 * operations in round r): keyedge's share against its twin. Rounds where either made no
 * operation are left out.
 */
export function roundDifferences(cpu, ops, p) {
  return cpu[0].flatMap((mine, r) => (ops[0][r] && ops[p][r] ? [mine / ops[0][r] - cpu[p][r] / ops[p][r]] : []));
}

/**
 * Per round, another process's CPU per operation over the first's: how many times as many
 * operations per CPU-second the first made (keyedge ÷ a peer). Rounds where either made no
 * operation or used no CPU are left out.
 */
export function roundRatios(cpu, ops, p) {
  return cpu[0].flatMap((mine, r) =>
    (ops[0][r] && ops[p][r] && mine > 0 && cpu[p][r] > 0 ? [(cpu[p][r] / ops[p][r]) / (mine / ops[0][r])] : []));
}

/**
 * A scenario of keyedge's against each of its partners in turns (bench/bench.mjs `paired`).
 * `me` and each of `others` are `{ op, pid }`; a partner also has `name` and `kind`: `'twin'`
 * (the floor making keyedge's platform calls) or `'peer'` (OpenAuth's same scenario).
 * Every process warms up first (`warm(op)`): the peers, then keyedge, then the twins, so that
 * the Durable Objects keyedge and its twins call have all started right before their rounds
 * (workerd stops one after 10 s without a call, and a start costs its caller 3–17 ms). Then,
 * partner by partner, `rounds` rounds of two turns, keyedge's and the partner's (`alternate`);
 * a peer warms again (`rewarm(op)`) right before its rounds. `run(op, pid)` runs a turn and
 * resolves to `{ lat, errors, firstError }` (a latency per operation that
 * succeeded), `cpu(pid)` reads a process's CPU (ms), `wait()`
 * idles a turn. A twin's failed operation stops the run (a share against a twin that did not
 * do its calls means nothing); a peer's turn with one counts no operations, so its round
 * leaves the ratios (`roundRatios`) and its row still counts the error.
 * Gives, by partner's name, `{ kind, runs, cpu, ops }` (by process, keyedge first, then by
 * round).
 */
export async function pairedTurns({ me, others, rounds, warm, rewarm, run, cpu, wait }) {
  const byKind = (peer) => others.filter((o) => (o.kind === 'peer') === peer);
  for (const o of byKind(true)) await warm(o.op);
  await warm(me.op);
  for (const o of byKind(false)) await warm(o.op);
  const partners = {};
  for (const o of others) {
    if (o.kind === 'peer') await rewarm(o.op);
    const turns = await alternate({
      rounds, n: 2, wait,
      cpu: () => [cpu(me.pid), cpu(o.pid)],
      run: async (p) => {
        const r = await run(p === 0 ? me.op : o.op, p === 0 ? me.pid : o.pid);
        if (p === 1 && r.errors && o.kind !== 'peer') throw new Error(`${o.name} failed ${r.errors} operations: ${r.firstError}`);
        return r;
      },
    });
    const ops = turns.runs.map((rs, p) => rs.map((x) => (p === 1 && x.errors ? 0 : x.lat.length)));
    partners[o.name] = { kind: o.kind, runs: turns.runs, cpu: turns.cpu, ops };
  }
  return partners;
}
