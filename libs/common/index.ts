export * from './errors';
export * from './http/public.decorator';
export * from './http/dialect';
export * from './http/exception.filter';
