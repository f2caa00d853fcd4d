/**
 * Builds the llama.cpp baselines (`llama-server`, `llama-bench`) from the source node-llama-cpp ships
 * (node_modules/node-llama-cpp/llama/gitRelease.bundle), i.e. the same llama.cpp the worker's prebuilt
 * binaries were built from. CPU only, Release, only the two targets, into a cache outside the repo
 * (`$CORRAL_BENCH_CACHE`, default ~/.cache/corral-bench/llama.cpp-<commit>), reused by later runs.
 *
 * `node dist/bench/llama-cpp.js` (npm run bench:setup) builds it; `npm run bench` calls the same code
 * when the cache is missing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface LlamaCppBuild {
  /** llama.cpp commit in the bundle. */
  commit: string;
  /** node-llama-cpp's name for that release (llama.cpp.info.json `tag`). */
  release: string;
  /** Release the worker's prebuilt binaries say they were built from. */
  prebuiltRelease?: string;
  server: string;
  bench: string;
  dir: string;
  /** Seconds the (first) configure + build took, as recorded when it ran. */
  buildSeconds: number;
  cmakeFlags: string[];
  /** True when this call built it (false: reused the cache). */
  builtNow: boolean;
}

const FLAGS = [
  '-DCMAKE_BUILD_TYPE=Release',
  '-DBUILD_SHARED_LIBS=OFF',
  // The machine's own instruction set, as node-llama-cpp picks the best CPU variant at run time.
  '-DGGML_NATIVE=ON',
  '-DGGML_BACKEND_DL=OFF',
  // Nothing may be fetched: no HTTPS, no prebuilt web UI.
  '-DLLAMA_OPENSSL=OFF',
  '-DLLAMA_BUILD_UI=OFF',
  '-DLLAMA_USE_PREBUILT_UI=OFF',
  '-DLLAMA_BUILD_TESTS=OFF',
  '-DLLAMA_BUILD_EXAMPLES=OFF',
  '-DLLAMA_BUILD_APP=OFF',
];
const TARGETS = ['llama-server', 'llama-bench'];

/** node_modules/node-llama-cpp above this file (its package exports hide package.json from require.resolve). */
function nodeLlamaCppDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', 'node-llama-cpp');
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error('node-llama-cpp is not installed (npm ci)');
  }
}

function bundleInfo(): { bundle: string; commit: string; release: string; prebuiltRelease?: string } {
  const root = nodeLlamaCppDir();
  const bundle = join(root, 'llama/gitRelease.bundle');
  if (!existsSync(bundle)) throw new Error(`node-llama-cpp ships no llama.cpp source bundle (${bundle})`);
  const heads = execFileSync('git', ['bundle', 'list-heads', bundle], { encoding: 'utf8' });
  const commit = /^([0-9a-f]{40})/m.exec(heads)?.[1];
  if (!commit) throw new Error(`cannot read the commit of ${bundle}: ${heads}`);
  const info = JSON.parse(readFileSync(join(root, 'llama/llama.cpp.info.json'), 'utf8')) as { tag: string };
  return { bundle, commit, release: info.tag, prebuiltRelease: prebuiltRelease(root) };
}

/** What the installed prebuilt binaries (the ones the worker loads) record as their llama.cpp release. */
function prebuiltRelease(root: string): string | undefined {
  const scope = join(root, '..', '@node-llama-cpp');
  const arch = `${process.platform === 'darwin' ? 'mac' : process.platform}-${process.arch}`;
  for (const dir of [join(scope, arch, 'bins'), join(root, 'bins')]) {
    if (!existsSync(dir)) continue;
    for (const sub of readdirSync(dir)) {
      const meta = join(dir, sub, '_nlcBuildMetadata.json');
      if (existsSync(meta)) {
        const m = JSON.parse(readFileSync(meta, 'utf8')) as {
          buildOptions?: { llamaCpp?: { release?: string } };
        };
        return m.buildOptions?.llamaCpp?.release;
      }
    }
  }
  return undefined;
}

export function cacheRoot(): string {
  return process.env.CORRAL_BENCH_CACHE ?? join(homedir(), '.cache', 'corral-bench');
}

/**
 * The cached build if it is complete, else undefined (nothing is built). With `partial`, whatever
 * binaries an unfinished build already produced (a missing one is ''), for runs while it goes on.
 */
export function findLlamaCpp(partial = false): LlamaCppBuild | undefined {
  const info = bundleInfo();
  const dir = join(cacheRoot(), `llama.cpp-${info.commit.slice(0, 8)}`);
  const server = join(dir, 'build/bin/llama-server');
  const bench = join(dir, 'build/bin/llama-bench');
  const record = join(dir, 'build-info.json');
  if (partial && (existsSync(server) || existsSync(bench))) {
    return {
      ...info,
      buildSeconds: Number.NaN,
      cmakeFlags: FLAGS,
      server: existsSync(server) ? server : '',
      bench: existsSync(bench) ? bench : '',
      dir,
      builtNow: false,
    };
  }
  if (!existsSync(server) || !existsSync(bench) || !existsSync(record)) return undefined;
  const rec = JSON.parse(readFileSync(record, 'utf8')) as { buildSeconds: number; cmakeFlags: string[] };
  return { ...info, ...rec, server, bench, dir, builtNow: false };
}

function run(cmd: string, args: string[], cwd: string, log: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out: string[] = [];
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      out.push(b.toString());
      if (out.length > 400) out.splice(0, 200);
      const last = /\[(\d+)\/(\d+)\]/.exec(b.toString().split('\n').reverse().join('\n'));
      if (last) process.stderr.write(`\r  llama.cpp build ${last[1]}/${last[2]}   `);
    };
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    p.on('error', reject);
    p.on('exit', (code) => {
      writeFileSync(log, out.join(''));
      if (code === 0) resolve();
      else
        reject(
          new Error(`${cmd} ${args.join(' ')} failed (${code}); see ${log}:\n${out.join('').slice(-3000)}`),
        );
    });
  });
}

/** Returns the cached build, building it first when missing (several minutes on 2 cores). */
export async function ensureLlamaCpp(log: (line: string) => void = console.error): Promise<LlamaCppBuild> {
  const cached = findLlamaCpp();
  if (cached) return cached;
  const info = bundleInfo();
  const dir = join(cacheRoot(), `llama.cpp-${info.commit.slice(0, 8)}`);
  const src = join(dir, 'src');
  const build = join(dir, 'build');
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  if (!existsSync(join(src, 'CMakeLists.txt'))) {
    rmSync(src, { recursive: true, force: true });
    log(`cloning llama.cpp ${info.commit.slice(0, 8)} (${info.release}) from ${info.bundle}`);
    execFileSync('git', ['clone', '--quiet', info.bundle, src], { stdio: 'ignore' });
    execFileSync('git', ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', info.commit], {
      cwd: src,
    });
  }
  const jobs = String(availableParallelism());
  const generator = hasNinja() ? ['-G', 'Ninja'] : [];
  log(`configuring llama.cpp (CPU only, Release) in ${build}`);
  await run('cmake', ['-S', src, '-B', build, ...generator, ...FLAGS], dir, join(dir, 'configure.log'));
  log(`building ${TARGETS.join(', ')} with ${jobs} jobs (several minutes on 2 cores)`);
  await run('cmake', ['--build', build, '-j', jobs, '--target', ...TARGETS], dir, join(dir, 'build.log'));
  process.stderr.write('\n');
  const buildSeconds = (Date.now() - started) / 1000;
  writeFileSync(join(dir, 'build-info.json'), JSON.stringify({ buildSeconds, cmakeFlags: FLAGS }, null, 2));
  log(`llama.cpp built in ${buildSeconds.toFixed(0)} s`);
  const built = findLlamaCpp();
  if (!built) throw new Error(`llama.cpp build finished but ${build}/bin lacks ${TARGETS.join(' or ')}`);
  return { ...built, builtNow: true };
}

function hasNinja(): boolean {
  try {
    execFileSync('ninja', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (require.main === module) {
  ensureLlamaCpp().then(
    (b) =>
      console.log(
        `llama.cpp ${b.commit.slice(0, 8)} (${b.release}; worker prebuilt: ${b.prebuiltRelease ?? '?'}) ` +
          `${b.builtNow ? 'built' : 'already built'} in ${b.dir} (build took ${b.buildSeconds.toFixed(0)} s)`,
      ),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
