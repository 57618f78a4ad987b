// `npm run lint` (also run first by `npm test`): every regular expression in src/ must be free of super-linear
// backtracking and super-linear moves, because mail is written by attackers (issue 23, docs/security-limits.md).
import regexp from 'eslint-plugin-regexp';
import * as tsStrip from './scripts/eslint-ts-parser.js';

export default [
  {
    files: ['src/**/*.ts'],
    languageOptions: { parser: tsStrip, ecmaVersion: 'latest', sourceType: 'module' },
    plugins: { regexp },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'regexp/no-super-linear-backtracking': ['error', { report: 'potential' }],
      'regexp/no-super-linear-move': ['error', { report: 'potential', ignorePartial: false }],
    },
  },
];
