// Lint: typescript-eslint's recommended rules, with Prettier owning the layout.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', 'coverage/', '.bench-out/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      // Unused names are `tsc`'s job (noUnusedLocals/noUnusedParameters), which knows `_` prefixes.
      '@typescript-eslint/no-unused-vars': 'off',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      eqeqeq: ['error', 'always'],
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['rxjs/internal', 'rxjs/internal/*'], message: 'RxJS internals change without notice: use the public API.' }],
        },
      ],
    },
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
  {
    files: ['src/**/*.ts'],
    rules: {
      // The library never writes to the console and never reads the wall clock except in src/http.
      'no-console': 'error',
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Schedule through a SchedulerLike.' },
        { name: 'setInterval', message: 'Schedule through a SchedulerLike.' },
      ],
    },
  },
);
