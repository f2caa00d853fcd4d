// One Jest config, three tiers: unit specs (`*.spec.ts` beside the code: no database, Redis, child
// process or model), integration specs (`*.int.spec.ts` beside the code: PGlite/PostgreSQL, Redis,
// node-llama-cpp with real or tiny models, native tools) and e2e tests (test/). swc compiles TypeScript
// (type checking is `npm run typecheck`); dynamic import() is kept so ESM-only packages
// (node-llama-cpp) load under --experimental-vm-modules.
const { readFileSync } = require('node:fs');
const swcrc = JSON.parse(readFileSync(__dirname + '/.swcrc', 'utf8'));
delete swcrc.$schema;

swcrc.jsc.baseUrl = __dirname;

const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(swcrc.jsc.paths)) {
  moduleNameMapper['^' + alias.replace('/', '\\/') + '$'] = '<rootDir>/' + target;
}
delete swcrc.jsc.paths;
delete swcrc.jsc.baseUrl;

const common = {
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swcrc, swcrc: false }] },
  moduleNameMapper,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.int\\.spec\\.ts$'],
    },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/{apps,libs}/**/*.int.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e.ts'] },
  ],
};
