/**
 * Builds the llama.cpp baselines (`llama-server`, `llama-bench`, `llama-quantize`) from the source
 * node-llama-cpp ships (node_modules/node-llama-cpp/llama/gitRelease.bundle), i.e. the same llama.cpp
 * the worker's prebuilt binaries were built from, into a cache outside the repo (`$CORRAL_BENCH_CACHE`,
 * default ~/.cache/corral-bench/llama.cpp-<commit>), reused by later runs.
 *
 * Only the tools are compiled: they are linked against the very libllama / libggml / libllama-common
 * shared libraries of node-llama-cpp's prebuilt CPU package that the worker loads (its CPU backend
 * variants are picked at run time the same way). So the baseline runs the worker's own llama.cpp
 * binary code, and the build takes minutes, not the hour a full llama.cpp build takes on 2 cores.
 * Where no prebuilt package for this platform is installed (or with CORRAL_BENCH_FULL_BUILD=1), the
 * whole of llama.cpp is built from source instead.
 *
 * `node dist/bench/llama-cpp.js` (npm run bench:setup) builds it; `npm run bench` calls the same code
 * when the cache is missing.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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
  /** llama-quantize ('' in a build that predates it). */
  quantize: string;
  dir: string;
  /** 'prebuilt-libs': tools linked against node-llama-cpp's prebuilt libraries; 'source': everything built. */
  mode: 'prebuilt-libs' | 'source';
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
const TARGETS = ['llama-server', 'llama-bench', 'llama-quantize'];

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
  const dir = prebuiltDir(root);
  if (!dir) return undefined;
  const m = JSON.parse(readFileSync(join(dir, '_nlcBuildMetadata.json'), 'utf8')) as {
    buildOptions?: { llamaCpp?: { release?: string } };
  };
  return m.buildOptions?.llamaCpp?.release;
}

/** The directory of node-llama-cpp's prebuilt CPU binaries for this platform (libllama, libggml*), if installed. */
function prebuiltDir(root: string): string | undefined {
  const scope = join(root, '..', '@node-llama-cpp');
  const arch = `${process.platform === 'darwin' ? 'mac' : process.platform}-${process.arch}`;
  for (const dir of [join(scope, arch, 'bins'), join(root, 'bins')]) {
    if (!existsSync(dir)) continue;
    for (const sub of readdirSync(dir)) {
      if (existsSync(join(dir, sub, '_nlcBuildMetadata.json'))) return realpathSync(join(dir, sub));
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
  const bin = (name: string) => join(dir, 'build/bin', name);
  const server = bin('llama-server');
  const bench = bin('llama-bench');
  const quantize = bin('llama-quantize');
  const record = join(dir, 'build-info.json');
  const have = (f: string) => (existsSync(f) ? f : '');
  if (partial && (existsSync(server) || existsSync(bench))) {
    return {
      ...info,
      buildSeconds: Number.NaN,
      cmakeFlags: FLAGS,
      server: have(server),
      bench: have(bench),
      quantize: have(quantize),
      mode: 'source',
      dir,
      builtNow: false,
    };
  }
  if (![server, bench, quantize, record].every((f) => existsSync(f))) return undefined;
  const rec = JSON.parse(readFileSync(record, 'utf8')) as {
    buildSeconds: number;
    cmakeFlags: string[];
    mode?: LlamaCppBuild['mode'];
  };
  return { ...info, ...rec, mode: rec.mode ?? 'source', server, bench, quantize, dir, builtNow: false };
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

/** Returns the cached build, building it first when missing (minutes; an hour for a full build on 2 cores). */
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
  const prebuilt = prebuiltDir(nodeLlamaCppDir());
  const mode: LlamaCppBuild['mode'] =
    prebuilt && hasNinja() && process.env.CORRAL_BENCH_FULL_BUILD !== '1' ? 'prebuilt-libs' : 'source';
  const jobs = String(availableParallelism());
  const generator = hasNinja() ? ['-G', 'Ninja'] : [];
  log(`configuring llama.cpp (CPU only, Release) in ${build}`);
  await run('cmake', ['-S', src, '-B', build, ...generator, ...FLAGS], dir, join(dir, 'configure.log'));
  if (mode === 'prebuilt-libs') {
    log(`building ${TARGETS.join(', ')} against node-llama-cpp's prebuilt libraries in ${prebuilt}`);
    await buildAgainstPrebuilt(build, prebuilt!, jobs, dir);
  } else {
    log(`building ${TARGETS.join(', ')} and all of llama.cpp with ${jobs} jobs (up to an hour on 2 cores)`);
    await run('cmake', ['--build', build, '-j', jobs, '--target', ...TARGETS], dir, join(dir, 'build.log'));
  }
  process.stderr.write('\n');
  const buildSeconds = (Date.now() - started) / 1000;
  writeFileSync(
    join(dir, 'build-info.json'),
    JSON.stringify({ buildSeconds, cmakeFlags: FLAGS, mode }, null, 2),
  );
  log(`llama.cpp tools built in ${buildSeconds.toFixed(0)} s (${mode})`);
  const built = findLlamaCpp();
  if (!built) throw new Error(`llama.cpp build finished but ${build}/bin lacks one of ${TARGETS.join(', ')}`);
  return { ...built, builtNow: true };
}

/** The CMake object directories each tool is made of (the libraries of llama.cpp itself come prebuilt). */
const TOOL_OBJECTS: Record<string, string[]> = {
  'llama-bench': [
    'tools/llama-bench/CMakeFiles/llama-bench.dir',
    'tools/llama-bench/CMakeFiles/llama-bench-impl.dir',
  ],
  'llama-quantize': [
    'tools/quantize/CMakeFiles/llama-quantize.dir',
    'tools/quantize/CMakeFiles/llama-quantize-impl.dir',
  ],
  'llama-server': [
    'tools/server/CMakeFiles/llama-server.dir',
    'tools/server/CMakeFiles/llama-server-impl.dir',
    'tools/server/CMakeFiles/server-context.dir',
    'tools/mtmd/CMakeFiles/mtmd.dir',
    'tools/ui/CMakeFiles/llama-ui.dir',
    'vendor/cpp-httplib/CMakeFiles/cpp-httplib.dir',
    'vendor/hash/CMakeFiles/vendor-hash.dir',
  ],
};

/**
 * Compiles only the tools' own object files (Ninja builds single objects without their link
 * dependencies), then links each tool against the prebuilt shared libraries, symlinked beside the
 * binaries so that `$ORIGIN` finds them and ggml finds its CPU backend variants there at run time.
 */
async function buildAgainstPrebuilt(
  build: string,
  prebuilt: string,
  jobs: string,
  dir: string,
): Promise<void> {
  const objects = execFileSync('ninja', ['-C', build, '-t', 'targets', 'all'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(':')[0]!)
    .filter((t) => t.endsWith('.o'));
  const of = (tool: string) => objects.filter((o) => TOOL_OBJECTS[tool]!.some((d) => o.startsWith(`${d}/`)));
  const all = [...new Set(TARGETS.flatMap(of))];
  await run('ninja', ['-C', build, '-j', jobs, ...all], dir, join(dir, 'build.log'));
  const bin = join(build, 'bin');
  mkdirSync(bin, { recursive: true });
  const libs = readdirSync(prebuilt).filter((f) => /^lib(llama|ggml).*\.so/.test(f));
  for (const f of libs) {
    rmSync(join(bin, f), { force: true });
    symlinkSync(join(prebuilt, f), join(bin, f));
  }
  // Link order: common before llama before ggml; the CPU variants are loaded at run time, not linked.
  const rank = (f: string) =>
    ['libllama-common', 'libllama', 'libggml.', 'libggml-base'].findIndex((p) => f.startsWith(p));
  const link = libs
    .filter((f) => !f.startsWith('libggml-cpu') && rank(f) >= 0)
    .sort((a, b) => rank(a) - rank(b))
    .map((f) => join(bin, f));
  for (const tool of TARGETS) {
    await run(
      'c++',
      [
        '-o',
        join(bin, tool),
        ...of(tool).map((o) => join(build, o)),
        ...link,
        '-Wl,-rpath,$ORIGIN',
        '-lpthread',
        '-ldl',
      ],
      dir,
      join(dir, `link-${tool}.log`),
    );
  }
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
          `${b.builtNow ? 'built' : 'already built'} in ${b.dir} (${b.mode}; build took ${b.buildSeconds.toFixed(0)} s)`,
      ),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
