/**
 * Engines by name and the out-of-process protocol's faults. A deliberately faulty engine
 * (fixtures/engines/faulty.mjs, in Node so that no Python is needed) fails in one way per test;
 * each must be one line naming the engine (with the end of its stderr where it said something),
 * exit code 2, and no process left behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseEngineList, torchThreadEnv } from '../src/engines/registry.js';
import { EngineProcess, splitCommand } from '../src/engines/process.js';
import { decodeTensor, encodeArray } from '../src/engines/wire.js';
import { parseSupports } from '../src/supports.js';
import { CLI, ROOT, expectOneLineError, rnnlab } from './helpers/cli.js';
import { alive } from './helpers/runs.js';

const FAULTY = join(ROOT, 'test', 'fixtures', 'engines', 'faulty.mjs');
const faulty = (mode: string): string => `cmd:${process.execPath} ${FAULTY} ${mode}`;
const small = ['--cell', 'rnn', '--hidden', '4', '--input', '3', '--output', '4', '--seq', '6', '--batch', '3', '--steps', '2'];

describe('engine names', () => {
  test('lists split on commas; a cmd: engine is one whole value; both is scratch and tfjs', () => {
    expect(parseEngineList(['scratch,tfjs-wasm', 'pytorch-f64'])).toEqual([
      { kind: 'scratch', dtype: 'float32' },
      { kind: 'tfjs', backend: 'wasm' },
      { kind: 'pytorch', dtype: 'float64' },
    ]);
    expect(parseEngineList(['cmd:python3 x.py --a 1,2', './mine.js', 'both'], 'cpu')).toEqual([
      { kind: 'cmd', command: 'python3 x.py --a 1,2' },
      { kind: 'module', path: './mine.js' },
      { kind: 'scratch', dtype: 'float32' },
      { kind: 'tfjs', backend: 'cpu' },
    ]);
    expect(() => parseEngineList(['scratch,jax'])).toThrow(/unknown engine "jax"/);
  });

  test('the PyTorch process gets its thread count in every pool, idle threads that sleep, and the variables the user set', () => {
    expect(torchThreadEnv(1, {})).toEqual({ OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' });
    // two pools spinning against each other made 2 threads three times slower than one (src/engines/pytorch.ts)
    expect(torchThreadEnv(2, { OMP_NUM_THREADS: '4' })).toEqual({ OPENBLAS_NUM_THREADS: '2', MKL_NUM_THREADS: '2', OMP_WAIT_POLICY: 'PASSIVE', OPENBLAS_THREAD_TIMEOUT: '20' });
    expect(torchThreadEnv(2, { OMP_WAIT_POLICY: 'ACTIVE', OPENBLAS_THREAD_TIMEOUT: '28' })).not.toHaveProperty('OMP_WAIT_POLICY');
  });

  test('commands split on spaces with quotes', () => {
    expect(splitCommand(`python3 "my dir/eng.py" --name 'a b'`)).toEqual(['python3', 'my dir/eng.py', '--name', 'a b']);
    expect(() => splitCommand('python3 "x.py')).toThrow(/unclosed/);
  });

  test('tensors round-trip through the wire format; a wrong size or shape is named', () => {
    const a = Float64Array.from([1.5, -2, 3e-300, Math.PI, 0, 7]);
    const t = encodeArray(a, [2, 3]);
    expect(t.dtype).toBe('F64');
    expect(Array.from(decodeTensor(t, 'x', [2, 3]).data)).toEqual(Array.from(a));
    const f = encodeArray(a, [2, 3], 'float32');
    expect(f.dtype).toBe('F32');
    expect(Array.from(decodeTensor(f, 'x').data)).toEqual(Array.from(Float32Array.from(a)));
    expect(() => decodeTensor(t, 'output', [3, 2])).toThrow(/output has shape \[2, 3\], expected \[3, 2\]/);
    expect(() => decodeTensor({ ...t, shape: [7] }, 'output')).toThrow(/48 bytes of data, but F64 \[7\] needs 56/);
    expect(() => decodeTensor({ dtype: 'F16', shape: [1], data: '' }, 'output')).toThrow(/not a tensor/);
  });

  test('supports: absent fields mean the plainest model; unknown fields and values are refused', () => {
    const s = parseSupports({ cells: ['lstm'] }, 'hello');
    expect(s.cells).toEqual(['lstm']);
    expect(s.mask).toBe(false);
    expect(s.optimizers).toEqual([]);
    expect(s.dtypes).toEqual(['float64']);
    expect(() => parseSupports({ cells: ['transformer'] }, 'hello')).toThrow(/supports.cells must be a list of "rnn", "lstm", "gru"/);
    expect(() => parseSupports({ masks: true }, 'hello')).toThrow(/unknown field supports."masks"/);
    // a key that is a property of every object is an unknown field like any other, never read as a list
    expect(() => parseSupports(JSON.parse('{"__proto__": {"cells": ["lstm"]}}'), 'hello')).toThrow(/unknown field supports."__proto__"/);
    expect(() => parseSupports({ toString: ['rnn'] }, 'hello')).toThrow(/unknown field supports."toString"/);
    // an empty list would make the engine run nothing (and print "it supports )"); no optimizer is allowed
    expect(() => parseSupports({ cells: [] }, 'hello')).toThrow(/supports.cells is empty/);
    expect(parseSupports({ optimizers: [] }, 'hello').optimizers).toEqual([]);
  });
});

describe('answers through the pipe', () => {
  const spec = { hiddenSize: 3, outputSize: 4 };
  const x = encodeArray(new Float64Array(10), [2, 5], 'float64');

  test('a long answer arriving in small pieces over many turns is one answer, every byte in place', async () => {
    const p = await EngineProcess.start(`${process.execPath} ${FAULTY} dribble`);
    try {
      await p.request('init', { spec });
      const a = await p.request('forward', { batch: { x } });
      const out = decodeTensor(a.output, 'output', [2, 5, 4]).data;
      expect(Array.from(out)).toEqual(Array.from({ length: 40 }, (_, i) => i / 8));
      // and the next request still works: nothing of the first answer was left over
      const b = await p.request('forward', { batch: { x } });
      expect(decodeTensor(b.output, 'output').data[39]).toBe(39 / 8);
    } finally {
      await p.close();
    }
  });

  test('a piece that ends one answer and starts the next: both answers arrive whole', async () => {
    const p = await EngineProcess.start(`${process.execPath} ${FAULTY} ahead`);
    try {
      await p.request('init', { spec });
      for (let i = 0; i < 4; i++) {
        const a = await p.request('forward', { batch: { x } });
        expect(decodeTensor(a.output, 'output').shape).toEqual([2, 5, 4]);
      }
    } finally {
      await p.close();
    }
  });

  test('two lines in one piece: the answer is taken, the line nobody asked for stops the engine', async () => {
    const p = await EngineProcess.start(`${process.execPath} ${FAULTY} extra-line`);
    try {
      await p.request('init', { spec });
      const a = await p.request('forward', { batch: { x } });
      expect(decodeTensor(a.output, 'output').shape).toEqual([2, 5, 4]);
      await expect(p.request('forward', { batch: { x } })).rejects.toThrow(/answered when nothing was asked/);
    } finally {
      await p.close();
    }
  });
});

describe('faults of an engine in another process', () => {
  test('a command that is not found', () => {
    expectOneLineError(rnnlab(['check', ...small, '--engines', 'cmd:no-such-engine-xyz --flag']), /engine no-such-engine-xyz --flag: command not found: no-such-engine-xyz/, expect);
  });

  test('an engine that exits early: its stderr is quoted', () => {
    const r = rnnlab(['check', ...small, '--engines', faulty('exit-forward')]);
    expectOneLineError(r, /engine faulty: exited with code 1 while answering "forward"; its stderr ends: .*IndexError: index 5 is out of bounds/, expect);
  });

  test('an engine that prints what is not protocol to stdout', () => {
    expectOneLineError(rnnlab(['check', ...small, '--engines', faulty('garbage-init')]), /engine faulty: printed to stdout what is not protocol: "loading weights\.\.\. done"/, expect);
  });

  test('an engine that answers with the wrong shape, the wrong id, an error, an old protocol or a bad handshake', () => {
    expectOneLineError(rnnlab(['check', ...small, '--engines', faulty('wrong-shape')]), /engine faulty: answered "forward" wrongly: output has shape \[3, 4\], expected \[3, 6, 4\]/, expect);
    expectOneLineError(rnnlab(['check', ...small, '--engines', faulty('wrong-names')]), /engine faulty: answered "loss_and_grads" wrongly: grads: missing layers\.0\.kernel, .*; unexpected layers\.0\.kernal/, expect);
    expectOneLineError(rnnlab(['check', ...small, '--engines', faulty('wrong-id')]), /engine faulty: answered id \d+ to request \d+ \("init"\)/, expect);
    expectOneLineError(rnnlab(['check', ...small, '--engines', faulty('error-forward')]), /engine faulty: failed in "forward": shapes \(3,4\) and \(5,4\) not aligned/, expect);
    expectOneLineError(rnnlab(['check', ...small, '--engines', faulty('old-protocol')]), /speaks protocol 0; rnnlab speaks 1/, expect);
    expectOneLineError(rnnlab(['check', ...small, '--engines', faulty('bad-supports')]), /hello: supports.cells must be a list/, expect);
  });

  test('an engine that hangs: the timeout ends it, and it is not left running', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-faulty-'));
    const pidFile = join(dir, 'pid');
    const r = rnnlab(['check', ...small, '--engines', faulty('hang-init'), '--engine-timeout', '1'], { env: { FAULTY_PID_FILE: pidFile } });
    expectOneLineError(r, /engine faulty: did not answer "init" within 1 s/, expect);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(false);
  });

  test('Ctrl-C ends the engine processes with rnnlab (exit 130)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-faulty-'));
    const pidFile = join(dir, 'pid');
    const child = spawn(process.execPath, [CLI, 'check', ...small, '--engines', faulty('hang-init')], { env: { ...process.env, FAULTY_PID_FILE: pidFile }, stdio: 'ignore' });
    const t0 = Date.now();
    while (!existsSync(pidFile) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // the handshake is done and init is waiting
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGINT');
    });
    expect(code).toBe(130);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
  });

  test('an engine under test that can run none of the check is bad input (exit 2), never a PASS beside the others', () => {
    // it claims rnn only: an lstm check names it, what it refused and what it claims
    const claims = 'its handshake claims: cells rnn; dtypes float64; optimizers sgd; mask, carriedState';
    const lstm = rnnlab(['check', ...small, '--cell', 'lstm', '--engines', 'scratch', '--engines', faulty('ok'), '--no-tfjs']);
    expectOneLineError(lstm, new RegExp(`^rnnlab: engine faulty cannot run any of this check: it does not support lstm cells \\(it supports rnn\\); ${claims}$`), expect);
    expect(lstm.stdout).not.toMatch(/PASS/);
    // a refusal at init, quoted in its own words
    expectOneLineError(rnnlab(['check', ...small, '--engines', 'scratch', '--engines', faulty('unsupported-init')]), new RegExp(`engine faulty cannot run any of this check: it refused the model at init with "hidden sizes above 4"; ${claims}$`), expect);
    // claimed, then refused at run time: the claim and the refusal
    expectOneLineError(
      rnnlab(['check', ...small, '--engines', 'scratch', '--engines', faulty('unsupported-forward')]),
      /engine faulty answered "forward" with unsupported: "this batch size", though its handshake claims this model \(the forward pass and the gradients of its spec\) \(it claims: cells rnn; .*\); a handshake claims only what the engine does/,
      expect,
    );
  });
});
