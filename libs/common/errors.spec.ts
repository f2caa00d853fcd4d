import { CorralError } from '@corral/common';

describe('CorralError', () => {
  it('maps codes to HTTP statuses', () => {
    expect(new CorralError('model_not_found', "model 'x' not found").status).toBe(404);
    expect(new CorralError('queue_full', 'server busy').status).toBe(503);
  });
});
