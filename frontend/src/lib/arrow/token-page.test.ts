import { describe, expect, it } from 'vitest';
import { decodeTokenPage } from './token-page';
import { FIXTURE_PAGE_B64 } from './fixture-page.b64';

function bytes(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

describe('decodeTokenPage', () => {
  it('groups the rows of a pyarrow-written stream by response, in page order', () => {
    const page = decodeTokenPage(bytes(FIXTURE_PAGE_B64));
    expect([...page.keys()]).toEqual([3, 0]);
    const first = page.get(3)!;
    expect(first.token).toEqual(['a', '<b>']);
    expect(first.position).toEqual([0, 1]);
    expect(first.columns.ratio).toEqual([1.5, null]);
    expect(first.columns.clipped).toEqual([1, 0]);
    expect(page.get(0)!.columns.ratio).toEqual([0.25]);
  });
});
