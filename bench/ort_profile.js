#!/usr/bin/env node
// ONNX Runtime's time per node: where the peer of bench/compare_ort.sh
// spends a forward, to set beside `bench_layers MODEL --inference`'s
// in-pass column (issue #20: "where ONNX Runtime wins, find out how").
//
//   node bench/ort_profile.js MODEL.onnx [--threads T] [--iters N]
//
// One session as bench/ort_time.js makes it (CPU, intraOpNumThreads=T,
// graph optimisation 'all', sequential), with ONNX Runtime's own profiler
// on. After 3 warm-up calls, N timed calls (default 20); then, per node of
// the optimised graph in execution order, the median over the N calls of
// its kernel time:
//   ms<TAB>op<TAB>node
// and a last line `total_ms=...` (the sum of the medians). ONNX Runtime
// names a fused node after the output it writes: a Conv with its ReLU
// fused is `.../relu/Relu_output_0_nchwc`, and `_nchwc` marks its
// channel-blocked layout. The profile's JSON file is written to the
// system's temporary directory and removed afterwards.
//
// Exit codes: 0 ok, 1 error, 2 usage, 3 onnxruntime-node not installed
// (run `sh tools/fetch_models.sh`).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function usage(msg) {
  process.stderr.write(`ort_profile: ${msg}\n` +
    'usage: node bench/ort_profile.js MODEL.onnx [--threads T] [--iters N]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { model: null, threads: 1, iters: 20 };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f === '--threads' || f === '--iters') {
      const v = argv[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) usage(`${f} needs a whole number >= 1`);
      a[f.slice(2)] = Number(v);
    } else if (f.startsWith('-')) {
      usage(`unknown option '${f}'`);
    } else if (a.model === null) {
      a.model = f;
    } else {
      usage(`unexpected argument '${f}'`);
    }
  }
  if (a.model === null) usage('needs MODEL.onnx');
  return a;
}

// The pinned ONNX Runtime in build/ort, as bench/ort_time.js loads it.
function loadOrt() {
  const where = path.join(__dirname, '..', 'build', 'ort', 'node_modules', 'onnxruntime-node');
  if (!fs.existsSync(where)) {
    process.stderr.write(`ort_profile: ONNX Runtime is not installed (${where} is missing): ` +
      'run `sh tools/fetch_models.sh`\n');
    process.exit(3);
  }
  return require(where);
}

function median(v) {
  const s = v.slice().sort((x, y) => x - y);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(a.model)) {
    process.stderr.write(`ort_profile: ${a.model}: no such file\n`);
    process.exit(1);
  }
  const ort = loadOrt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort_profile_'));
  try {
    const session = await ort.InferenceSession.create(a.model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: a.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'profile'),
    });
    const meta = session.inputMetadata && session.inputMetadata[0];
    const dims = meta && Array.isArray(meta.shape) ? meta.shape.map((d) => (typeof d === 'number' ? d : 1)) : null;
    if (!dims) throw new Error('the model does not say its input shape');
    const n = dims.reduce((p, d) => p * d, 1);
    // Values in [-1, 1); the times do not depend on them.
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sin(i) * 0.999;
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, dims) };
    const warm = 3;
    for (let i = 0; i < warm + a.iters; i++) await session.run(feeds);
    session.endProfiling();
    await session.release();
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`expected one profile in ${dir}, found ${files.length}`);
    const events = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
    // Kernel-time events, one per node per call, in execution order.
    const per = new Map();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const name = e.name.slice(0, -'_kernel_time'.length);
      if (!per.has(name)) per.set(name, { op: e.args && e.args.op_name, us: [] });
      per.get(name).us.push(e.dur);
    }
    let total = 0;
    for (const [name, v] of per) {
      const ms = median(v.us.slice(warm)) / 1000;
      total += ms;
      process.stdout.write(`${ms.toFixed(3)}\t${v.op}\t${name}\n`);
    }
    process.stdout.write(`total_ms=${total.toFixed(3)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`ort_profile: ${String(e && e.message ? e.message : e).split('\n')[0]}\n`);
  process.exit(1);
});
