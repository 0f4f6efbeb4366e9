//! `kmq nodes`: the MQ nodes of a cluster, as the Serena registry lists
//! them (with --registry), or as the node itself sees the cluster.

use crate::fail::CliResult;
use crate::opts::ServerOpts;
use clap::Args;
use kapokmq::console::Console;
use kapokmq::internals::Registry;

#[derive(Args, Debug)]
pub struct NodesArgs {
    /// One JSON array instead of a table.
    #[arg(short = 'J', long)]
    pub json: bool,
}

/// (name, addr, port) of each node.
type Nodes = Vec<(String, String, String)>;

fn from_registry(server: &ServerOpts) -> CliResult<(Nodes, String)> {
    let registry = Registry::from_config(&server.config()?)?;
    let nodes = kapokmq::internals::runtime_handle()?.block_on(registry.nodes())?;
    let list = nodes.into_iter().map(|n| (n.name, n.addr, n.port.to_string())).collect();
    Ok((list, format!("registry {}", registry.url())))
}

fn from_node(server: &ServerOpts) -> CliResult<(Nodes, String)> {
    let answer = Console::new(&server.config()?)?.nodes()?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    let list = answer
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| (text(&n["Name"]), text(&n["Addr"]), text(&n["Port"])))
        .collect();
    Ok((list, format!("node {}:{} (not in cluster mode?)", server.addr, server.port)))
}

pub fn run(server: &ServerOpts, args: &NodesArgs) -> CliResult<()> {
    let (nodes, source) = if server.registry.is_some() { from_registry(server)? } else { from_node(server)? };
    if args.json {
        let list: Vec<_> = nodes
            .iter()
            .map(|(name, addr, port)| serde_json::json!({ "name": name, "addr": addr, "port": port.parse::<u16>().ok() }))
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    if nodes.is_empty() {
        eprintln!("no MQ node is alive ({source})");
        return Ok(());
    }
    let width = nodes.iter().map(|n| n.0.len()).max().unwrap_or(0).max(4);
    println!("{:<width$}  {:<15}  PORT", "NAME", "ADDR");
    for (name, addr, port) in &nodes {
        println!("{name:<width$}  {addr:<15}  {port}");
    }
    Ok(())
}
