// The IM-server port in one import: the interface, its data types and its typed errors.

export * from './errors';
export * from './events';
export * from './port';
export * from './presence';
