// kapokmq as an ES module: `import kmq from 'kapokmq'` gives what
// require('kapokmq') gives, and every export is also a named import. One
// module instance serves both, so classes are the same under either syntax.
import kmq from './index.js';

export default kmq;
export const {
  Producer,
  Consumer,
  ClusterProducer,
  ClusterConsumer,
  Message,
  Console,
  KapokMQError,
  Status,
  version,
  libraryPath,
  logger,
  setLogger,
} = kmq;
