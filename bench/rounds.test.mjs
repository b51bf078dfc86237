// The arithmetic `make bench` judges shares and ratios by (bench/rounds.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, spread, roundCpu, roundDifferences, roundRatios, stampsNeeded, alternate } from './rounds.mjs';

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
