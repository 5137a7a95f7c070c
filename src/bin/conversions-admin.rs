//! `conversions-admin`: wiring only; the commands live in `conversions::admin`.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use conversions::admin::{Cli, execute, one_line};
use conversions::telemetry::error_chain;

fn main() -> ExitCode {
    // SAFETY: the first thing the process does; no other thread exists yet.
    unsafe { conversions::config::unset_empty_variables() };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("{}", one_line(&err));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let sdk_config = match conversions::sdk::load_sdk_config().await {
            Ok(sdk_config) => sdk_config,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(2);
            }
        };
        match execute(cli, &sdk_config).await {
            Ok(output) => {
                println!("{output:#}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {}", error_chain(&err));
                ExitCode::from(err.exit_code())
            }
        }
    })
}
