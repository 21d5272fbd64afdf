// ESLint flat config: typescript-eslint's recommended rules everywhere, plus the typed rules that catch a
// promise nobody waits for (a lost rejection, an unawaited write, an async callback where a sync one is
// expected). Formatting is Prettier's job (.prettierrc.json).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.tmp/', 'fixtures/', 'logs/', 'backup/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // a `let` read by a closure before its one assignment (a hook registered before the thing it stops
      // exists) cannot be a `const`
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `_name` marks a parameter or binding that is deliberately unused (a callback's position, a
      // destructured field left out of a rest object)
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test/describe/it return a promise the runner itself tracks; awaiting them at the top
        // level of a test file is not how node:test is used. The name match also lets an unawaited `t.test`
        // subtest through; node:test itself fails a subtest still running when its parent ends.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
