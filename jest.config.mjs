/**
 * Unit tests (libs, src) and e2e tests (test/) in one run, as ESM. `npm run test:chaos` (AE_CHAOS=1) runs the
 * chaos project instead: several API and worker processes, and MySQL, Redis or a receiver stopped for a while.
 */
/**
 * ESM-only packages that CommonJS dependencies require() (@fastify/middie, which @nestjs/platform-fastify imports:
 * path-to-regexp 9). Node (>= 20.19) loads them as they are; jest's module runtime does not, so under jest they are
 * compiled to CommonJS.
 */
const ESM_REQUIRED = ['path-to-regexp'].join('|');

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^#webhook$': '<rootDir>/libs/webhook/src/index.ts',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
    [`/node_modules/(?:.+/node_modules/)?(?:${ESM_REQUIRED})/.+\\.js$`]: [
      'babel-jest',
      { babelrc: false, configFile: false, plugins: ['@babel/plugin-transform-modules-commonjs'] },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(?:.+/node_modules/)?(?:${ESM_REQUIRED})/)`],
  testEnvironment: 'node',
};

export default {
  maxWorkers: 2,
  testTimeout: 60000,
  projects: process.env.AE_CHAOS
    ? [{ ...common, displayName: 'chaos', testMatch: ['<rootDir>/test/chaos/**/*.chaos-spec.ts'] }]
    : [
        { ...common, displayName: 'unit', testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/src/**/*.spec.ts'] },
        {
          ...common,
          displayName: 'e2e',
          testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
        },
      ],
};
