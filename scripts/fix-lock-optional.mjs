// node-llama-cpp lists prebuilt-binary packages for every platform as optional dependencies. The
// npm registry this project installs from lacks some of them (macOS, Windows, riscv64), so npm
// leaves them out of package-lock.json, and then `npm ci` refuses the lock as out of sync. This
// adds lock entries for them marked with their os/cpu, which npm skips on every other platform.
// Run after any `npm install` that rewrites the lock: `node scripts/fix-lock-optional.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORMS = {
  'linux-riscv64': ['linux', 'riscv64'],
  'mac-arm64-metal': ['darwin', 'arm64'],
  'mac-x64': ['darwin', 'x64'],
  'win-arm64': ['win32', 'arm64'],
  'win-x64': ['win32', 'x64'],
  'win-x64-cuda': ['win32', 'x64'],
  'win-x64-cuda-ext': ['win32', 'x64'],
  'win-x64-vulkan': ['win32', 'x64'],
};
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const version = lock.packages['node_modules/node-llama-cpp'].version;
let added = 0;
for (const [name, [os, cpu]] of Object.entries(PLATFORMS)) {
  const key = `node_modules/@node-llama-cpp/${name}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = { version, optional: true, os: [os], cpu: [cpu] };
  added++;
}
const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
lock.packages = sorted;
writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log(`added ${added} lock entries`);
