//! `kmq`: a kcat-like command line for KapokMQ, built on the kapokmq
//! library: produce from stdin, consume to stdout, the node's console API,
//! the registry's node list, and a benchmark.

mod bench;
mod console;
mod consume;
mod fail;
mod format;
mod nodes;
mod opts;
mod produce;
mod progress;

use clap::{Parser, Subcommand};
use fail::CliError;

const EXAMPLES: &str = "\
Examples:
  kmq consume -t orders -c 10 --timeout 5            ten messages, or stop after 5 s idle
  echo hello | kmq produce -t orders                 one message per stdin line
  kmq produce -t orders 'first' 'second' --delay 60  arguments, delivered in a minute
  kmq produce -t orders --file order.json            a whole file as one message
  kmq produce -t orders -D '\\0' < records            stdin split at NUL bytes
  kmq -b node1:8011 consume -t orders -e -J          JSON lines until nothing more comes
  kmq consume -t orders -f '%T %k %s\\n'              a format: see kmq consume --help
  kmq stats                                          the node's message counts
  kmq messages --topic orders --status waiting       message list (no payloads)
  kmq message 8c01b728ef82ba754a63e61daa43e83c       one message, with its payload
  kmq clients                                        connected producers and consumers
  kmq nodes -r registry.local:8031                   live nodes of a cluster
  kmq bench --quick                                  measure this machine (see docs/bench)

Start consumers before producers: a node pushes a message to the consumers
connected when it arrives, and pushes what nobody took (or acked) again only
after its pushRetryTime, 300 s by default.

kcat's flags where they mean the same: -b HOST:PORT, -t, -c, -e, -J, -f, -D,
-q, -X.

Environment (flags win): KAPOKMQ_ADDR, KAPOKMQ_PORT, KAPOKMQ_SECRET_KEY,
KAPOKMQ_TOPIC, KAPOKMQ_REGISTRY (HOST[:PORT]; cluster mode for produce and
consume), KAPOKMQ_TLS, KAPOKMQ_PRODUCER_ID, KAPOKMQ_CONSUMER_ID.

Exit codes: 0 success; 1 something failed (a message unconfirmed, the
server refused); 2 bad usage or input; 3 cannot connect or key rejected;
4 timed out waiting.";

#[derive(Parser, Debug)]
#[command(name = "kmq", version, about = "Command line for the KapokMQ message queue", after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    server: opts::ServerOpts,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send messages (arguments, files, or stdin lines) and wait for every
    /// confirmation.
    Produce(produce::ProduceArgs),
    /// Print pushed messages and ack them.
    Consume(consume::ConsumeArgs),
    /// Live MQ nodes: the registry's list with --registry, else the node's own view.
    Nodes(nodes::NodesArgs),
    /// Message counts of the node (console API).
    Stats(console::JsonArgs),
    /// Messages stored on the node, newest first, without payloads.
    Messages(console::MessagesArgs),
    /// One message by its code, with its payload.
    Message(console::MessageArgs),
    /// Producers and consumers connected to the node.
    Clients(console::JsonArgs),
    /// Throughput, latency and footprint against a fresh local kmq-broker.
    Bench(bench::BenchArgs),
}

fn run(cli: Cli) -> Result<(), CliError> {
    let s = &cli.server;
    match &cli.command {
        Command::Produce(a) => produce::run(s, a),
        Command::Consume(a) => consume::run(s, a),
        Command::Nodes(a) => nodes::run(s, a),
        Command::Stats(a) => console::stats(s, a),
        Command::Messages(a) => console::messages(s, a),
        Command::Message(a) => console::message(s, a),
        Command::Clients(a) => console::clients(s, a),
        Command::Bench(a) => bench::run(a),
    }
}

fn main() {
    let mut cli = Cli::parse();
    if let Err(e) = cli.server.resolve().and_then(|()| run(cli)) {
        eprintln!("kmq: {e}");
        std::process::exit(e.code);
    }
}
