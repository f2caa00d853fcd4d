import { ownerOf, toOpenAiModel } from './models.mapper';

describe('toOpenAiModel', () => {
  it('gives unix seconds of the modified time and the namespace as owner', () => {
    expect(toOpenAiModel('tiny:latest', '2024-05-01T12:00:00.500Z')).toEqual({
      id: 'tiny:latest',
      object: 'model',
      created: 1714564800,
      owned_by: 'library',
    });
    expect(toOpenAiModel('myns/tiny:latest', new Date(1000_000)).owned_by).toBe('myns');
    expect(ownerOf('registry.local:5000/team/tiny:v1')).toBe('team');
  });
});
