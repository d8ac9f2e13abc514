import { describe, expect, it } from 'vitest';
import { displayToken } from './token-display';

describe('displayToken', () => {
  it('keeps ordinary text and leading spaces', () => {
    expect(displayToken(' the')).toEqual({ text: ' the', breakAfter: false });
  });
  it('marks newlines and breaks the line after them', () => {
    expect(displayToken('.\n')).toEqual({ text: '.↵', breakAfter: true });
    expect(displayToken('\r\n')).toEqual({ text: '↵', breakAfter: true });
  });
  it('makes whitespace-only and empty tokens visible', () => {
    expect(displayToken('  ').text).toBe('··');
    expect(displayToken('\t').text).toBe('→');
    expect(displayToken('').text).toBe('∅');
  });
  it('escapes control characters and leaves markup as plain characters', () => {
    expect(displayToken('\x00a').text).toBe('\\x00a');
    expect(displayToken('<img src=x onerror=alert(1)>').text).toBe('<img src=x onerror=alert(1)>');
  });
});
