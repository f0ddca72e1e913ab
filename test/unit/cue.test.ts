import { describe, expect, it } from 'vitest';
import { defaultLimitSettings } from '../../src/config.js';
import { parseCue } from '../../src/engine/recall.js';
import { expectBadInput } from '../support/expectBadInput.js';

describe('parseCue', () => {
  it('parseCue_whenTextHoldsMoreDistinctTermsThanTheLimit_refusesWithTheLimit', () => {
    const text = Array.from({ length: defaultLimitSettings.maxCueTerms + 1 }, (_, i) => `term${i}`).join(' ');
    const error = expectBadInput(() => parseCue({ text }, 4, defaultLimitSettings));
    expect(error.details).toMatchObject({ field: 'cue.text', limit: 'cueTerms', maxCueTerms: defaultLimitSettings.maxCueTerms });
  });

  it('parseCue_countsDistinctTermsAfterStopWords_soRepeatsAndStopWordsAreFree', () => {
    const terms = Array.from({ length: defaultLimitSettings.maxCueTerms }, (_, i) => `term${i}`);
    const text = `${terms.join(' ')} ${terms.join(' ')} the and of a`;
    expect(parseCue({ text }, 4, defaultLimitSettings).terms).toHaveLength(defaultLimitSettings.maxCueTerms);
  });

  it('parseCue_whenTextHoldsALoneSurrogate_refusesIt', () => {
    expectBadInput(() => parseCue({ text: 'launch \ud800 plan' }, 4, defaultLimitSettings));
  });
});
