// kapokmq as an ES module: `import kmq from 'kapokmq'` gives what
// require('kapokmq') gives, and its members are named imports too (Node
// reads their names from index.js's module.exports). One module instance
// serves both, so classes are the same under either syntax.
export * from './index.js';
export { default } from './index.js';
