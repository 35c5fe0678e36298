/**
 * Unit tests (libs, src) and e2e tests (test/) in one run, as ESM. `npm run test:chaos` (AE_CHAOS=1) runs the
 * chaos project instead: several API and worker processes, and MySQL, Redis or a receiver stopped for a while.
 */
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^#webhook$': '<rootDir>/libs/webhook/src/index.ts' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
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
