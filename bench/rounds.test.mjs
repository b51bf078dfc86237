// The arithmetic `make bench` judges shares and ratios by (bench/rounds.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, spread, roundCpu, roundDifferences, roundRatios, stampsNeeded, alternate, pairedTurns } from './rounds.mjs';

test('the median of an odd count is the middle value, of an even count the mean of the two middle ones', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.equal(median([]), null);
});

test('the median orders numbers as numbers, negative ones and several digits too', () => {
  assert.equal(median([10.1, 9.5, 11.3, -0.2]), (9.5 + 10.1) / 2);
  assert.equal(median([100, 20, 3]), 20);
});

test('the median does not reorder its input', () => {
  const v = [3, 1, 2];
  median(v);
  assert.deepEqual(v, [3, 1, 2]);
});

test('a spread gives the median with the lowest and highest round', () => {
  assert.deepEqual(spread([1.23456, 0.5, 2]), { median: 1.235, low: 0.5, high: 2, n: 3 });
  assert.equal(spread([]), null);
});

test("each process's round runs from its turn's start to its next turn's start", () => {
  // Two rounds of three processes (keyedge, its twin, a peer). Each stamp is every process's
  // CPU at a turn's start; the process whose turn it is gains 10 ms in it, the idle ones 1 ms
  // (deferred work), so a round of any process is 10 + 1 + 1.
  const rounds = 2; const n = 3;
  const at = [[0, 0, 0]];
  for (let i = 0; i < stampsNeeded(rounds, n) - 1; i++) {
    const prev = at[at.length - 1];
    at.push(prev.map((c, p) => c + (i % n === p ? 10 : 1)));
  }
  assert.equal(at.length, 9);
  assert.deepEqual(roundCpu(at, rounds, n), [[12, 12], [12, 12], [12, 12]]);
});

test('the idle time after a turn counts for the process that turn was for, not the next one', () => {
  // One round of two: keyedge's turn [0 → 1], then the twin's [1 → 2], then the wait [2 → 3].
  // keyedge defers 5 ms into the twin's turn; the twin defers 7 ms past its own.
  const at = [[0, 0], [20, 0], [25, 10], [25, 17]];
  assert.deepEqual(roundCpu(at, 1, 2), [[25], [17]]);
});

test('too few stamps are refused, not read as zero', () => {
  assert.throws(() => roundCpu([[0, 0], [1, 1], [2, 2]], 1, 2), /4 needed/);
});

test('a share is keyedge per operation less its twin per operation, round by round', () => {
  const cpu = [[30, 40], [10, 12]];
  const ops = [[10, 10], [10, 6]];
  assert.deepEqual(roundDifferences(cpu, ops, 1), [2, 2]);
});

test("a ratio is the peer's CPU per operation over keyedge's, so above 1 when keyedge is cheaper", () => {
  const cpu = [[10, 10, 10], [0, 0, 0], [40, 10, 30]];
  const ops = [[10, 10, 10], [1, 1, 1], [20, 10, 10]];
  assert.deepEqual(roundRatios(cpu, ops, 2), [2, 1, 3]);
});

test('rounds where a process made no operation or used no CPU are left out', () => {
  const cpu = [[10, 10, 0], [20, 20, 20]];
  const ops = [[10, 0, 10], [10, 10, 10]];
  assert.deepEqual(roundDifferences(cpu, ops, 1), [-1, -2]);
  assert.deepEqual(roundRatios(cpu, ops, 1), [2]);
});

test('uneven rounds: each round is read from its own stamps', () => {
  // Two rounds of two processes; stamps at each turn's start (cumulative CPU).
  // keyedge: turn 0 → 7, twin's turn → 9, turn 1 → 20, twin's turn → 21 (its last "next").
  // twin: 0, 0, 4, 5, 11, 12 (it idles 1 ms after its last turn).
  const at = [[0, 0], [7, 0], [9, 4], [20, 5], [21, 11], [21, 12]];
  assert.deepEqual(roundCpu(at, 2, 2), [[9, 12], [5, 7]]);
});

test('alternate reads the CPU before the first turn, after each turn and after the idle turns the last needs', async () => {
  // A fake machine: a process gains 10 ms in its own turn, and each process also gains what it
  // deferred (2 ms) in the turn after its own, whoever's turn that is; an idle turn the same.
  const cpu = [0, 0, 0];
  let deferred = null;
  const tick = (own) => {
    if (deferred !== null) cpu[deferred] += 2;
    if (own !== null) cpu[own] += 10;
    deferred = own;
  };
  const order = [];
  const result = await alternate({
    rounds: 2, n: 3,
    run: async (p) => { order.push(p); tick(p); return `turn of ${p}`; },
    cpu: () => [...cpu],
    wait: async () => { order.push('idle'); tick(null); },
  });
  assert.deepEqual(order, [0, 1, 2, 0, 1, 2, 'idle', 'idle']);
  assert.deepEqual(result.runs, [['turn of 0', 'turn of 0'], ['turn of 1', 'turn of 1'], ['turn of 2', 'turn of 2']]);
  // Every round of every process holds its own 10 ms and the 2 it deferred, nobody else's.
  assert.deepEqual(result.cpu, [[12, 12], [12, 12], [12, 12]]);
});

/**
 * A fake bench for `pairedTurns`: each process (by pid) gains `perOp` ms per operation in its
 * own turns; `log` records warm-ups, re-warms and turns in order; `failing` pids fail one
 * operation in the turns listed.
 */
function fakeBench({ perOp, opsPerTurn = 10, failing = {} }) {
  const cpu = {};
  const log = [];
  const turns = {};
  const op = (name) => ({ name });
  return {
    log, cpu, op,
    warm: async (o) => { log.push(`warm ${o.name}`); },
    rewarm: async (o) => { log.push(`rewarm ${o.name}`); },
    run: async (o, pid) => {
      const turn = (turns[pid] = (turns[pid] ?? 0) + 1);
      log.push(`turn ${o.name}`);
      const errors = failing[pid]?.includes(turn) ? 1 : 0;
      cpu[pid] = (cpu[pid] ?? 0) + perOp[pid] * opsPerTurn;
      return { lat: Array(opsPerTurn - errors).fill(1), errors, firstError: errors ? 'refused' : undefined };
    },
    cpuOf: (pid) => cpu[pid] ?? 0,
    wait: async () => { log.push('idle'); },
  };
}

test('pairedTurns warms peers first, then keyedge, then its twin, and re-warms a peer right before its rounds', async () => {
  const b = fakeBench({ perOp: { 1: 2, 2: 1, 3: 4 } });
  const me = { op: b.op('keyedge'), pid: 1 };
  const others = [
    { name: 'twin', kind: 'twin', op: b.op('twin'), pid: 2 },
    { name: 'openauth', kind: 'peer', op: b.op('openauth'), pid: 3 },
  ];
  const partners = await pairedTurns({ me, others, rounds: 2, warm: b.warm, rewarm: b.rewarm, run: b.run, cpu: b.cpuOf, wait: b.wait });
  assert.deepEqual(b.log, [
    'warm openauth', 'warm keyedge', 'warm twin',
    'turn keyedge', 'turn twin', 'turn keyedge', 'turn twin', 'idle',
    'rewarm openauth',
    'turn keyedge', 'turn openauth', 'turn keyedge', 'turn openauth', 'idle',
  ]);
  // keyedge 2 ms per operation, its twin 1, OpenAuth 4: a share of 1 ms, a ratio of 2.
  assert.deepEqual(roundDifferences(partners.twin.cpu, partners.twin.ops, 1), [1, 1]);
  assert.deepEqual(roundRatios(partners.openauth.cpu, partners.openauth.ops, 1), [2, 2]);
  assert.equal(partners.twin.kind, 'twin');
  assert.equal(partners.openauth.runs[1].length, 2);
});

test("pairedTurns stops on a twin's failed operation: a share against calls not made means nothing", async () => {
  const b = fakeBench({ perOp: { 1: 2, 2: 1 }, failing: { 2: [2] } });
  const others = [{ name: 'twin', kind: 'twin', op: b.op('twin'), pid: 2 }];
  await assert.rejects(
    pairedTurns({ me: { op: b.op('keyedge'), pid: 1 }, others, rounds: 3, warm: b.warm, rewarm: b.rewarm, run: b.run, cpu: b.cpuOf, wait: b.wait }),
    /twin failed 1 operations: refused/,
  );
});

test("pairedTurns leaves a peer's failed turn out of the ratios, and keyedge's failures are its own row's", async () => {
  // OpenAuth fails one operation in its second turn; keyedge fails one in its first.
  const b = fakeBench({ perOp: { 1: 2, 3: 4 }, failing: { 3: [2], 1: [1] } });
  const others = [{ name: 'openauth', kind: 'peer', op: b.op('openauth'), pid: 3 }];
  const partners = await pairedTurns({ me: { op: b.op('keyedge'), pid: 1 }, others, rounds: 3, warm: b.warm, rewarm: b.rewarm, run: b.run, cpu: b.cpuOf, wait: b.wait });
  const { cpu, ops, runs } = partners.openauth;
  assert.deepEqual(ops[1], [10, 0, 10], "the failed turn counts no operations");
  assert.equal(runs[1][1].errors, 1, 'and its row still has the error');
  assert.deepEqual(ops[0], [9, 10, 10], "keyedge's own failure only lowers its operations");
  // Round 1: keyedge 20 ms for 9 operations, OpenAuth 40 for 10: 4 / (20/9) = 1.8.
  assert.deepEqual(roundRatios(cpu, ops, 1).map((x) => +x.toFixed(3)), [1.8, 2]);
});
