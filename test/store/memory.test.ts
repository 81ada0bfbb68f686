import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/server/core/ports.js';
import { MemoryStore } from '../../src/server/store/memory/memory-store.js';
import { clientRecord, storeContract } from './contract.js';

storeContract('memory', async () => {
  const store = new MemoryStore();
  return {
    store,
    rows: async (table) => store.rowCounts()[table] ?? Number.NaN,
    close: () => store.close(),
  };
});

describe('MemoryStore', () => {
  it('keeps copies: mutating a record after storing it does not change the stored one', async () => {
    const store = new MemoryStore();
    const client = clientRecord('c1');
    await store.createClient(client);
    client.scopes.push('admin');
    expect((await store.findClient('c1'))?.scopes).toEqual(clientRecord('c1').scopes);
  });

  it('refuses every call once closed (StoreUnavailableError)', async () => {
    const store = new MemoryStore();
    await store.close();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
