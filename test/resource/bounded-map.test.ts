import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../src/resource/bounded-map.js';

describe('BoundedMap (the resource middleware caches)', () => {
  it('keeps at most maxEntries and drops the oldest insertion first', () => {
    const m = new BoundedMap<string, number>(3);
    for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) m.set(key, i);
    expect(m.size).toBe(3);
    expect(m.get('a')).toBeUndefined();
    expect([m.get('b'), m.get('c'), m.get('d')]).toEqual([1, 2, 3]);
  });

  it('a replaced entry keeps its place in the order', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.set('a', 10);
    m.set('c', 3);
    expect(m.get('a')).toBeUndefined();
    expect([m.get('b'), m.get('c')]).toEqual([2, 3]);
  });

  it('a key deleted and set again is not dropped when its old slot comes round', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.delete('a');
    m.set('a', 3); // takes the slot after 'b'; 'a''s old slot is now this one
    expect(m.size).toBe(2);
    m.set('c', 4); // the oldest slot held 'b'
    expect(m.get('b')).toBeUndefined();
    expect([m.get('a'), m.get('c')]).toEqual([3, 4]);
  });

  it('with maxEntries 0 keeps nothing; clear empties it', () => {
    const none = new BoundedMap<string, number>(0);
    none.set('a', 1);
    expect(none.size).toBe(0);
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1);
    m.clear();
    expect(m.size).toBe(0);
    m.set('b', 2);
    m.set('c', 3);
    expect([m.get('b'), m.get('c')]).toEqual([2, 3]);
  });
});
