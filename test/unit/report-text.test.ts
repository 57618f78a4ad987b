import { describe, expect, it } from 'vitest';
import { capText, collapseSpaces, foldCase, oneLine } from '../../src/core/report-text.ts';
import { seededRandom } from '../../bench/corpus.ts';

// The shortcuts in report-text.ts must give exactly what the plain versions give.

const plainOneLine = (text: string, maxChars: number): string => capText(collapseSpaces(text).trim(), maxChars);
const plainFoldCase = (text: string): string => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();

describe('oneLine', () => {
  it('reads only a prefix of a long text and gives what collapsing all of it gives', () => {
    const rand = seededRandom(7);
    const pieces = ['word', ' ', '  ', '\n', '\r\n', '\t', ' \n\n ', 'Ünïcode', '😀', 'x'.repeat(50), ' '.repeat(300)];
    for (let k = 0; k < 300; k++) {
      let text = '';
      const n = Math.floor(rand() * 2000);
      for (let j = 0; j < n; j++) text += pieces[Math.floor(rand() * pieces.length)]!;
      for (const max of [1, 5, 40, 200, 2000]) expect(oneLine(text, max)).toBe(plainOneLine(text, max));
    }
  });

  it('keeps a long paste to its first characters, on one line', () => {
    expect(oneLine(`  Credit:\n\n  Jane   Doe\t(ACME)\n${'filler '.repeat(100_000)}`, 30)).toBe('Credit: Jane Doe (ACME) filler');
  });
});

describe('foldCase', () => {
  it('lower-cases ASCII and strips accents from the rest, as NFD folding does', () => {
    for (const s of ['Steps To Reproduce', 'ÉTAPES pour reproduire', 'Schritte zur Reproduktion', 'İstanbul', 'Ñandú', '', 'a\u0301b', 'PoC: \u00a0x']) {
      expect(foldCase(s)).toBe(plainFoldCase(s));
    }
    expect(foldCase('Étapes')).toBe('etapes');
  });
});
