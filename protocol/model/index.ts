export * from './attributes.js';
export * from './content.js';
export * from './link.js';
export * from './operation.js';
export * from './path.js';
export * from './result-code.js';
export * from './value.js';
