// Types for `import kmq from 'kapokmq'` and named imports (index.mjs).
import * as kmq from './index.js';

export * from './index.js';
export default kmq;
