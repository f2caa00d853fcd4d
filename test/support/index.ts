export * from './server';
export * from './models';
export * from './http';
