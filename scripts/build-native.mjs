// Builds Corral's native decode loop (native/decode-loop.cc) into build/native/corral-decode.node.
//
// It compiles against the llama.cpp headers of the source bundle node-llama-cpp ships (the same
// llama.cpp its prebuilt addon was built from) and the N-API headers from npm, and links against
// nothing: at run time it finds llama.cpp in the addon node-llama-cpp loaded. Needs a C++ compiler
// and git; without them, or when the compile fails, it says so and Corral uses its JavaScript decode
// loop (a little slower on small models; docs/performance.md). A build is reused while its inputs are
// unchanged, so `npm run build` pays for it once (~15 s on 2 cores).
//
// Usage: node scripts/build-native.mjs [--force]   (also run by scripts/build.mjs)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native/decode-loop.cc');
const outDir = join(root, 'build/native');
const output = join(outDir, 'corral-decode.node');
const stamp = join(outDir, 'corral-decode.stamp');
const force = process.argv.includes('--force');

function log(message) {
  process.stderr.write(`build-native: ${message}\n`);
}

function tool(name) {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function main() {
  if (process.env.CORRAL_NATIVE_BUILD === 'off') {
    log('CORRAL_NATIVE_BUILD=off: skipped (the JavaScript decode loop is used)');
    return;
  }
  if (process.platform === 'win32') {
    log('not built on Windows (the JavaScript decode loop is used)');
    return;
  }
  const nlcRoot = join(root, 'node_modules/node-llama-cpp');
  const bundle = join(nlcRoot, 'llama/gitRelease.bundle');
  const napiHeaders = join(root, 'node_modules/node-api-headers/include');
  if (!existsSync(bundle) || !existsSync(napiHeaders)) {
    log("node-llama-cpp's llama.cpp source or node-api-headers is missing: skipped (JavaScript decode loop)");
    return;
  }
  const cxx = process.env.CXX || 'c++';
  if (!tool(cxx) || !tool('git')) {
    log(`no C++ compiler (${cxx}) or git: skipped (the JavaScript decode loop is used)`);
    return;
  }
  const nlcVersion = JSON.parse(readFileSync(join(nlcRoot, 'package.json'), 'utf8')).version;
  const commit = execFileSync('git', ['bundle', 'list-heads', bundle], { encoding: 'utf8' }).split(/\s/)[0];
  const key = createHash('sha256')
    .update(readFileSync(source))
    .update(`${nlcVersion} ${commit} ${process.platform} ${process.arch} ${cxx}`)
    .digest('hex');
  if (!force && existsSync(output) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return;

  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'corral-native-'));
  try {
    // Only the public headers: include/ and ggml/include/ of the bundled llama.cpp.
    const src = join(work, 'llama.cpp');
    execFileSync('git', ['clone', '--quiet', '--no-checkout', bundle, src], { stdio: 'ignore' });
    execFileSync('git', ['-C', src, 'checkout', '--quiet', 'HEAD', '--', 'include', 'ggml/include'], {
      stdio: 'ignore',
    });
    mkdirSync(outDir, { recursive: true });
    const partial = join(outDir, `corral-decode.${process.pid}.tmp`);
    execFileSync(
      cxx,
      [
        '-std=c++17',
        '-O2',
        '-fPIC',
        // N-API's symbols come from the node binary that loads the addon.
        ...(process.platform === 'darwin' ? ['-bundle', '-undefined', 'dynamic_lookup'] : ['-shared']),
        '-fvisibility=hidden',
        '-pthread',
        '-DNODE_GYP_MODULE_NAME=corral_decode',
        '-DNAPI_VERSION=8',
        `-I${napiHeaders}`,
        `-I${join(src, 'include')}`,
        `-I${join(src, 'ggml/include')}`,
        source,
        '-o',
        partial,
        ...(process.platform === 'linux' ? ['-ldl'] : []),
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    renameSync(partial, output);
    writeFileSync(stamp, key);
    log(`built ${output} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    rmSync(output, { force: true });
    log(
      `compile failed (${e instanceof Error ? e.message.split('\n')[0] : e}); the JavaScript decode loop is used`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
