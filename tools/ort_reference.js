#!/usr/bin/env node
// Reference outputs from ONNX Runtime, to compare libxcnn with.
//
//   node tools/ort_reference.js MODEL.onnx INPUT.npy OUTPUT.npy
//   node tools/ort_reference.js --compare GOT.npy WANT.npy TOL [elementwise|scaled]
//
// INPUT.npy is float32, C order, of the model's sample shape (C,H,W) or
// with a leading batch (N,C,H,W); a missing batch axis is added. The
// model's first output is written as float32 .npy. Symbolic dimensions of
// the model input take the sizes of INPUT.npy.
//
// ONNX Runtime is looked up as 'onnxruntime-node' (native, CPU) and then
// 'onnxruntime-web' (WebAssembly), first on node's usual path and then in
// build/ort/node_modules (where tools/fetch_models.sh installs it). Exit
// codes: 0 ok, 1 error, 3 no ONNX Runtime found (tests then skip).
//
// --compare prints two relative errors of GOT against WANT (same number of
// values) and exits 0 if the chosen one (default elementwise) is <= TOL:
//   elementwise  max_i |got_i - want_i| / |want_i|   (strict: a softmax
//                output's tiny probabilities check the logits' difference)
//   scaled       max_i |got_i - want_i| / max_i |want_i|  (for logits near 0)
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  const local = path.join(__dirname, '..', 'build', 'ort', 'node_modules');
  for (const name of ['onnxruntime-node', 'onnxruntime-web']) {
    for (const where of [name, path.join(local, name)]) {
      try {
        return { ort: require(where), name };
      } catch (e) {
        // try the next one
      }
    }
  }
  return null;
}

// A float32 .npy: magic, version, header length, a Python dict header.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: not little-endian float32`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const m = header.match(/'shape':\s*\(([^)]*)\)/);
  if (!m) throw new Error(`${file}: no shape in the header`);
  const dims = m[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length - start < 4 * n) throw new Error(`${file}: truncated`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(start + 4 * i);
  return { dims, data };
}

function writeNpy(file, dims, data) {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n'; // 64-byte aligned
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

function compare(gotPath, wantPath, tolText, measure) {
  const got = readNpy(gotPath), want = readNpy(wantPath);
  const tol = Number(tolText);
  if (!(tol >= 0) || !['elementwise', 'scaled'].includes(measure)) {
    console.error('usage: --compare GOT.npy WANT.npy TOL [elementwise|scaled]');
    return 2;
  }
  if (got.data.length !== want.data.length || got.data.length === 0) {
    console.error(`compare: ${got.data.length} values against ${want.data.length}`);
    return 1;
  }
  let maxWant = 0, maxDiff = 0, elem = 0;
  for (let i = 0; i < want.data.length; i++) {
    const d = Math.abs(got.data[i] - want.data[i]), w = Math.abs(want.data[i]);
    if (!Number.isFinite(got.data[i])) return console.error('compare: not finite'), 1;
    maxWant = Math.max(maxWant, w);
    maxDiff = Math.max(maxDiff, d);
    elem = Math.max(elem, w > 0 ? d / w : d > 0 ? Infinity : 0);
  }
  const scaled = maxWant > 0 ? maxDiff / maxWant : maxDiff;
  const chosen = measure === 'elementwise' ? elem : scaled;
  console.log(`max relative error ${elem.toExponential(2)} elementwise, ` +
              `${scaled.toExponential(2)} scaled; ${measure} <= ${tolText}: ` +
              (chosen <= tol ? 'yes' : 'NO'));
  return chosen <= tol ? 0 : 1;
}

async function main() {
  if (process.argv[2] === '--compare')
    return compare(process.argv[3], process.argv[4], process.argv[5],
                   process.argv[6] || 'elementwise');
  const [modelPath, inputPath, outputPath] = process.argv.slice(2);
  if (!outputPath) {
    console.error('usage: node tools/ort_reference.js MODEL.onnx INPUT.npy OUTPUT.npy');
    return 2;
  }
  const found = loadOrt();
  if (!found) {
    console.error('ort_reference: neither onnxruntime-node nor onnxruntime-web is installed ' +
                  '(run tools/fetch_models.sh)');
    return 3;
  }
  const { ort } = found;
  const x = readNpy(inputPath);
  if (x.dims.length === 3) x.dims.unshift(1);
  const session = await ort.InferenceSession.create(modelPath);
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor('float32', x.data, x.dims);
  const result = await session.run(feeds);
  const y = result[session.outputNames[0]];
  writeNpy(outputPath, y.dims, y.data);
  console.log(`${found.name}: ${path.basename(modelPath)} -> ${outputPath} [${y.dims.join('x')}]`);
  return 0;
}

main().then((rc) => { process.exitCode = rc; },
            (e) => { console.error(`ort_reference: ${e.message}`); process.exitCode = 1; });
