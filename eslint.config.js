// Lint settings: typescript-eslint's recommended rules over sources, tests and benchmarks,
// and the layering of docs/ARCHITECTURE.md: each layer imports only from the layers below
// it, and the machine layer uses no Node API and no npm package.
import tseslint from 'typescript-eslint';

const above = (dirs) =>
  dirs.map((d) => ({ group: [`**/${d}/*`], message: `lower layers do not import from src/${d}/` }));

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-constant-condition': 'off',
    },
  },
  {
    files: ['src/machine/**/*.ts'],
    ignores: ['src/machine/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^[^.]',
              message:
                'src/machine imports no Node API and no npm package: hand it a backend instead',
            },
            ...above(['vmm', 'host', 'cluster', 'cli', 'web', 'images']),
          ],
        },
      ],
    },
  },
  {
    files: ['src/vmm/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: above(['host', 'cluster', 'cli', 'web']) }],
    },
  },
  {
    files: ['src/host/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: above(['cluster', 'cli', 'web']) }],
    },
  },
  {
    // The browser console speaks to the host only through the public API: no imports of the
    // daemon's, VMM's or machine's code (their types included), no Node API.
    files: ['src/web/**/*.ts'],
    ignores: ['src/web/vite.config.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^node:',
              message: 'src/web runs in the browser: no Node API',
            },
            {
              group: [
                '**/machine/*',
                '**/vmm/*',
                '**/host/*',
                '**/cluster/*',
                '**/cli/*',
                '**/images/*',
              ],
              message: 'src/web speaks to the host only through its public API',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/images/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: above(['vmm', 'host', 'cluster', 'cli', 'web']) },
      ],
    },
  },
);
