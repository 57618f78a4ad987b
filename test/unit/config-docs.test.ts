import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOC, renderConfigDocs } from '../../scripts/config-docs.ts';

// docs/configuration.md is generated from the zod schema (src/config.ts) by `npm run docs:config`. A key added,
// removed or given another default without regenerating it fails here.

describe('docs/configuration.md', () => {
  it('is what `npm run docs:config` writes from the current schema (run it after changing src/config.ts)', () => {
    expect(readFileSync(CONFIG_DOC, 'utf8')).toBe(renderConfigDocs());
  });

  it('lists keys at every depth, with their defaults, and the OAuth2 block', () => {
    const doc = renderConfigDocs();
    expect(doc).toMatch(/^\| `mailboxes\[\]\.imap\.port` \| number \(integer, ≥ 1, ≤ 65535\) \| `993` \|/m);
    expect(doc).toMatch(/^\| `policy\.resolution_days\.critical` \| .* \| `30` \|/m);
    expect(doc).toMatch(/^\| `auth\.refresh_before_seconds` \| .* \| `300` \|/m);
    expect(doc).not.toMatch(/\[\]` \| object/); // a list's element is not a row of its own
  });
});
