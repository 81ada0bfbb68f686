import { describe, expect, it } from 'vitest';
import type { CoreContext } from '../../src/server/core/context.js';
import { RECENT_CHALLENGES, Throttle, resolveThrottleSettings } from '../../src/server/core/throttle.js';

// challengeReused reads only the settings; the context is for the events it does not send.
const throttle = (pkceReuseDetection = true) => new Throttle({} as CoreContext, resolveThrottleSettings({ pkceReuseDetection }));

describe('P8 RFC 9700 §2.1.1: constant PKCE challenges', () => {
  it('P8 RFC 9700 §2.1.1: a challenge is reused when the same client sent it before, not when another client did', () => {
    const t = throttle();
    expect(t.challengeReused('c1', 'challenge-x')).toBe(false);
    expect(t.challengeReused('c1', 'challenge-x')).toBe(true);
    expect(t.challengeReused('c2', 'challenge-x')).toBe(false);
    expect(t.challengeReused('c1', 'challenge-y')).toBe(false);
  });

  it(`P8 RFC 9700 §2.1.1: the window is the last ${RECENT_CHALLENGES} codes; a challenge that keeps coming stays in it`, () => {
    const t = throttle();
    t.challengeReused('c1', 'once');
    t.challengeReused('c1', 'constant');
    for (let i = 0; i < RECENT_CHALLENGES - 1; i++) {
      t.challengeReused('c2', `fresh-${i}`);
      // Sent again every hundred codes: each use is one of the newest codes.
      if (i % 100 === 0) expect(t.challengeReused('c1', 'constant')).toBe(true);
    }
    expect(t.challengeReused('c1', 'once')).toBe(false);
    expect(t.challengeReused('c1', 'constant')).toBe(true);
  });

  it('P8: with pkceReuseDetection off nothing is remembered or reported', () => {
    const t = throttle(false);
    expect(t.challengeReused('c1', 'challenge-x')).toBe(false);
    expect(t.challengeReused('c1', 'challenge-x')).toBe(false);
  });
});
