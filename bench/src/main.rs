//! `registry-bench`: see the crate documentation and docs/performance.md.

use std::process::ExitCode;

use clap::Parser;
use registry_bench::{Options, server};

fn main() -> ExitCode {
    // Re-executed as the server under test (see `server`).
    if std::env::args_os().nth(1).is_some_and(|a| a == server::SERVE_CHILD_ARG) {
        return match server::serve_child_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("registryd (bench child): {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = Options::parse();
    match bench(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("registry-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn bench(opts: &Options) -> anyhow::Result<()> {
    let launch = match &opts.registryd {
        Some(path) => server::Launch::registryd(path.clone()),
        None => server::Launch::bench_binary(std::env::current_exe()?),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(registry_bench::run(opts, launch))?;
    println!("{}", report.render());
    report.write_json(&opts.json)?;
    println!("JSON report: {}", opts.json.display());
    Ok(())
}
