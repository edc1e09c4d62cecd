export * from './definition.js';
export * from './definitions.generated.js';
export * from './ids.js';
export * from './registry.js';
export * from './edgedm-objects.js';
