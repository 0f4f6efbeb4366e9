'use strict';
// Starts a real kmq-broker for a test file and stops it afterwards.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const REPO = path.join(__dirname, '..', '..', '..');
const BROKER = process.env.KMQ_BROKER || path.join(REPO, 'target', 'release', 'kmq-broker');

/**
 * Starts `kmq-broker --port 0 --push-speed-ms 0 ...extraArgs` and resolves
 * with { host, port, pid, stop() } once it prints its listening line.
 */
function startBroker(extraArgs = []) {
  const args = ['--port', '0', '--push-speed-ms', '0', ...extraArgs];
  const child = spawn(BROKER, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // A test file that dies halfway must not leave its broker behind.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${BROKER} did not say it was listening within 15 s`));
    }, 15000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${BROKER}: ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${BROKER} exited early (${signal || code})`));
    });
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /^kmq-broker listening on ([\d.]+):(\d+)$/.exec(line);
      const unsupported = /^kmq-broker unsupported: (.*)$/.exec(line);
      if (unsupported) {
        child.removeAllListeners('exit');
        const e = new Error(`the server lacks ${extraArgs.join(' ')}: ${unsupported[1]}`);
        e.skipReason = e.message;
        reject(e);
        return;
      }
      if (!m) {
        child.kill('SIGKILL');
        reject(new Error(`unexpected first line from kmq-broker: ${line}`));
        return;
      }
      child.removeAllListeners('exit');
      resolve({
        host: m[1],
        port: Number(m[2]),
        pid: child.pid,
        /**
         * Resolves once the server lists a consumer on `topic`. The real node
         * registers a consumer a moment after its handshake succeeded, and a
         * message sent in that moment waits for the node's push retry.
         */
        async consumerListed(topic, timeoutMs = 5000) {
          const until = Date.now() + timeoutMs;
          for (;;) {
            const r = await fetch(`http://${m[1]}:${m[2]}/Console/GetClients`, {
              method: 'POST',
              headers: { secretkey: 'test' },
            });
            const { consumers } = await r.json();
            if ((consumers || []).some((c) => c.Topic === topic)) return;
            if (Date.now() > until) throw new Error(`no consumer on ${topic} listed within ${timeoutMs} ms`);
            await new Promise((done) => setTimeout(done, 20));
          }
        },
        /** SIGSTOP to the broker and the processes it started (the real node behind kmq-real-broker). */
        freeze() {
          for (const pid of processTree(child.pid)) process.kill(pid, 'SIGSTOP');
        },
        stop() {
          process.off('exit', reap);
          lines.close();
          return new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGKILL');
          });
        },
        /**
         * Kills the broker and starts another with the same arguments on
         * the same port, for its clients to reconnect to; resolves with it.
         */
        async restart() {
          await this.stop();
          const giveUp = Date.now() + 5000;
          for (;;) {
            try {
              return await startBroker([...extraArgs, '--port', m[2]]);
            } catch (e) {
              // The port may not be free again at once.
              if (Date.now() > giveUp) throw e;
              await new Promise((done) => setTimeout(done, 100));
            }
          }
        },
      });
    });
  });
}

/** `pid` and the processes below it, parents first (Linux /proc). */
function processTree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tasks = [];
    try {
      tasks = fs.readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const children = fs.readFileSync(`/proc/${all[i]}/task/${task}/children`, 'utf8');
        all.push(...children.split(/\s+/).filter(Boolean).map(Number));
      } catch {
        // the task ended meanwhile
      }
    }
  }
  return all;
}

/**
 * startBroker for a test that needs one of kmq-broker's test switches: on a
 * server without it (the real node, see tests/real) the test is skipped with
 * the server's reason and this resolves with null.
 */
async function startBrokerOrSkip(t, extraArgs) {
  try {
    return await startBroker(extraArgs);
  } catch (e) {
    if (!e.skipReason) throw e;
    t.skip(e.skipReason);
    return null;
  }
}

let topicCounter = 0;
/** A topic name no other test in this process uses. */
function uniqueTopic(prefix = 't') {
  topicCounter += 1;
  return `${prefix}${process.pid}x${topicCounter}`;
}

module.exports = { startBroker, startBrokerOrSkip, uniqueTopic, REPO };
