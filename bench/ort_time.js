#!/usr/bin/env node
// ONNX Runtime's plain forward time on one model: the peer that
// bench/compare_ort.sh sets beside `xcnn bench` (issue #20).
//
//   node bench/ort_time.js MODEL.onnx [--threads T] [--iters N] [--warm W]
//                          [--batch B] [--shape 1,3,224,224] [--profile]
//
// One InferenceSession on the CPU, configured as a deployment would be:
// intraOpNumThreads=T (default 1), interOpNumThreads=1, graph optimisation
// level 'all', sequential execution. The input is a fixed float32 tensor
// drawn with the same LCG and seed as `xcnn bench` (tools/cli/bench.c), so
// both sides see the same values. W warm-up calls (default 1, as `xcnn
// bench` does one), then each of N timed calls (default 10) prints
//   ms=12.345
// and the run ends with exactly one line
//   median_ms=12.345 peak_rss_mb=123.4 node_rss_mb=45.6
// peak_rss_mb is this process's VmHWM (as xcnn bench reports its own), so it
// includes node itself; node_rss_mb is the RSS before ONNX Runtime was
// loaded, i.e. the part that is node's and not ORT's.
//
// --profile turns ONNX Runtime's own profiler on and, before the last
// line, prints for each node of its optimised graph (execution order) the
// median over the timed calls of its kernel time:
//   node<TAB>0.123<TAB>Conv<TAB>/layer1/layer1.0/relu/Relu_output_0_nchwc
// (ms, op, the node's name: ORT names a fused node after the output it
// writes, `_nchwc` marking its channel-blocked layout), to set beside
// `bench_layers MODEL --inference`'s in-pass column. The profile's JSON
// goes to a temporary directory, removed afterwards. The profiler adds a
// little to each call: take the plain times from a run without it.
//
// The input shape comes from the model's metadata (batch axis set to B,
// default 1); --shape overrides it, and is needed when a dimension other
// than the batch is symbolic. Exit codes: 0 ok, 1 error, 2 usage,
// 3 onnxruntime-node not installed (run `sh tools/fetch_models.sh`).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

// RSS before anything heavy is loaded: node's own share of the peak.
const nodeRssMb = process.memoryUsage().rss / (1024 * 1024);

function usage(msg) {
  process.stderr.write(`ort_time: ${msg}\n` +
    'usage: node bench/ort_time.js MODEL.onnx [--threads T] [--iters N] [--warm W]\n' +
    '                              [--batch B] [--shape 1,3,224,224] [--profile]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { model: null, threads: 1, iters: 10, warm: 1, batch: 1, shape: null, profile: false };
  const ints = { '--threads': 'threads', '--iters': 'iters', '--warm': 'warm', '--batch': 'batch' };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f in ints) {
      const v = argv[++i];
      const min = f === '--warm' ? 0 : 1;
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) {
        usage(`${f} needs a whole number >= ${min}`);
      }
      a[ints[f]] = Number(v);
    } else if (f === '--shape') {
      const v = argv[++i];
      if (v === undefined || !/^\d+(,\d+)*$/.test(v)) usage('--shape needs sizes like 1,3,224,224');
      a.shape = v.split(',').map(Number);
    } else if (f === '--profile') {
      a.profile = true;
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

// onnxruntime-node from build/ort only (where tools/fetch_models.sh puts the
// pinned version), by absolute path: not whatever node's path may find,
// since the comparison should name one known ORT build.
function loadOrt() {
  const where = path.join(__dirname, '..', 'build', 'ort', 'node_modules', 'onnxruntime-node');
  if (!fs.existsSync(where)) {
    process.stderr.write(`ort_time: ONNX Runtime is not installed (${where} is missing): ` +
      'run `sh tools/fetch_models.sh`\n');
    process.exit(3);
  }
  try {
    return require(where);
  } catch (e) {
    process.stderr.write(`ort_time: ${where} does not load (${String(e.message).split('\n')[0]}): ` +
      'run `sh tools/fetch_models.sh` again\n');
    process.exit(3);
  }
  return null;
}

// Peak resident memory of this process in MB (VmHWM, Linux), as
// tools/cli/bench.c measures ours; null where /proc is not there.
function peakRssMb() {
  try {
    const m = fs.readFileSync('/proc/self/status', 'latin1').match(/VmHWM:\s*(\d+) kB/);
    return m ? Number(m[1]) / 1024 : null;
  } catch (e) {
    return null;
  }
}

// The input xcnn bench feeds: x = 2 * u - 1, u the top 24 bits of a 64-bit
// LCG (Knuth's MMIX constants) over 2^24, seed 0x9e3779b97f4a7c15.
function benchInput(n) {
  const x = new Float32Array(n);
  const mask = (1n << 64n) - 1n;
  let s = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < n; i++) {
    s = (s * 6364136223846793005n + 1442695040888963407n) & mask;
    x[i] = Number((s >> 40n) & 0xffffffn) / 16777216 * 2 - 1;
  }
  return x;
}

// The input dims: --shape, else the model's metadata with the batch set.
function inputShape(session, a) {
  if (a.shape) return a.shape;
  const meta = session.inputMetadata && session.inputMetadata[0];
  if (!meta || !meta.isTensor || !Array.isArray(meta.shape) || meta.shape.length === 0) {
    throw new Error('the model does not say its input shape: pass --shape, e.g. --shape 1,3,224,224');
  }
  if (meta.type !== 'float32') throw new Error(`input '${meta.name}' is ${meta.type}, not float32`);
  const dims = meta.shape.slice();
  if (typeof dims[0] === 'number' && dims[0] !== a.batch) {
    throw new Error(`the model's batch is fixed at ${dims[0]}: --batch ${a.batch} cannot run`);
  }
  dims[0] = a.batch; // a symbolic batch takes B
  for (let i = 1; i < dims.length; i++) {
    if (typeof dims[i] !== 'number') {
      throw new Error(`input dimension ${i} is symbolic ('${dims[i]}'): pass --shape`);
    }
  }
  return dims;
}

function median(v) {
  const s = v.slice().sort((x, y) => x - y);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

// The per-node lines of --profile from the profiler's JSON: kernel-time
// events, one per node per call; the first `skip` calls are the warm-up.
function printProfile(file, skip) {
  const per = new Map();
  for (const e of JSON.parse(fs.readFileSync(file, 'utf8'))) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    if (!per.has(name)) per.set(name, { op: e.args && e.args.op_name, us: [] });
    per.get(name).us.push(e.dur);
  }
  for (const [name, v] of per) {
    const ms = median(v.us.slice(skip)) / 1000;
    process.stdout.write(`node\t${ms.toFixed(3)}\t${v.op}\t${name}\n`);
  }
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(a.model)) {
    process.stderr.write(`ort_time: ${a.model}: no such file\n`);
    process.exit(1);
  }
  const ort = loadOrt();
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
  const profileDir = a.profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'ort_time_')) : null;
  if (profileDir) {
    options.enableProfiling = true;
    options.profileFilePrefix = path.join(profileDir, 'profile');
  }
  try {
    await timeModel(ort, options, a, profileDir);
  } finally {
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  }
}

async function timeModel(ort, options, a, profileDir) {
  const session = await ort.InferenceSession.create(a.model, options);
  const dims = inputShape(session, a);
  const n = dims.reduce((p, d) => p * d, 1);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', benchInput(n), dims) };

  for (let i = 0; i < a.warm; i++) await session.run(feeds);
  // session.run is the native call behind one setImmediate: the await adds
  // an event-loop turn (microseconds) to each figure, nothing more.
  const times = [];
  for (let i = 0; i < a.iters; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    times.push(ms);
    process.stdout.write(`ms=${ms.toFixed(3)}\n`);
  }
  if (profileDir) {
    session.endProfiling();
    const files = fs.readdirSync(profileDir).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`expected one profile in ${profileDir}, found ${files.length}`);
    printProfile(path.join(profileDir, files[0]), a.warm);
  }
  const peak = peakRssMb();
  process.stdout.write(`median_ms=${median(times).toFixed(3)}` +
    (peak === null ? '' : ` peak_rss_mb=${peak.toFixed(1)}`) +
    ` node_rss_mb=${nodeRssMb.toFixed(1)}\n`);
  await session.release();
}

main().catch((e) => {
  process.stderr.write(`ort_time: ${String(e && e.message ? e.message : e).split('\n')[0]}\n`);
  process.exit(1);
});
