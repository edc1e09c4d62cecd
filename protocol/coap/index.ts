export * from './options.js';
export * from './link-query.js';
