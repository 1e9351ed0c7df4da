//! `quickmc`: memcached from the command line, built on the quickmc client.

#[macro_use]
mod output;
mod bench;
mod cli;
mod commands;
mod demo;
mod keys;
mod local_server;
mod outcome;
mod show;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, ClientArgs, Command};
use local_server::LocalServer;
use outcome::Outcome;
use output::{Failure, StdoutClosed};

fn main() -> ExitCode {
    let result = run(Cli::parse()).and_then(|outcome| {
        output::flush()?;
        Ok(outcome)
    });
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Miss) => ExitCode::from(1),
        // The reader of our output has gone (`| head`): nothing to say.
        Err(e) if e.is::<StdoutClosed>() => ExitCode::SUCCESS,
        Err(e) => {
            note!("quickmc: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<Outcome, Failure> {
    let Cli {
        json,
        client,
        command,
    } = cli;
    match command {
        Command::Bench(args) => {
            let memory = bench::memory_mb(&args);
            let (servers, _local) = servers_or_throwaway(&client, memory, json)?;
            let callers = u32::try_from(args.concurrency).unwrap_or(u32::MAX);
            // Pooled: one connection per caller unless --pool-size says
            // otherwise; pipelined and async: two shared connections per server.
            let target = match args.mode {
                bench::Mode::Pooled => {
                    bench::Target::Blocking(client.build(&servers, Some(callers))?)
                }
                bench::Mode::Pipelined => {
                    bench::Target::Blocking(client.build_pipelined(&servers, 2)?)
                }
                bench::Mode::Async => bench::Target::Async(client.build_async(&servers, 2)?),
            };
            bench::run(target, &servers, args, json)
        }
        Command::Demo => {
            let (servers, _local) = servers_or_throwaway(&client, 64, json)?;
            demo::run(&client.build(&servers, None)?, json)
        }
        command => {
            let client = client.build(&client.servers(), None)?;
            commands::run(&client, command, json)
        }
    }
}

/// The servers given, or a throwaway memcached of `memory_mb` (stopped when
/// the returned guard drops), for the commands that bring their own.
fn servers_or_throwaway(
    client: &ClientArgs,
    memory_mb: u32,
    json: bool,
) -> Result<(Vec<String>, Option<LocalServer>), Failure> {
    if !client.servers.is_empty() {
        return Ok((client.servers(), None));
    }
    let local = LocalServer::start(memory_mb)?;
    if !json {
        say!("(started a throwaway memcached on {})", local.spec());
    }
    Ok((vec![local.spec().to_string()], Some(local)))
}
