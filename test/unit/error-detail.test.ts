// What warnings say about an error: its name and a bounded message, under keys Powertools Logger keeps
// (`message` is reserved by it and would be dropped).

import { describe, expect, it } from 'vitest';
import { errorDetail } from '../../functions/domain/error-detail';

describe('errorDetail', () => {
  it('gives the name and the message under keys the logger does not reserve', () => {
    const detail = errorDetail(new TypeError('boom'));
    expect(detail).toEqual({ error: 'TypeError', errorMessage: 'boom' });
    expect(detail).not.toHaveProperty('message');
  });

  it('cuts a long message at 300 characters and says only the type of a non-error', () => {
    expect(errorDetail(new Error('x'.repeat(1_000))).errorMessage).toHaveLength(300);
    expect(errorDetail('secret-looking string')).toEqual({ error: 'string' });
  });
});
