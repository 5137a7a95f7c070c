//! `conversions-admin`: wiring only; the commands live in `conversions::admin`.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use conversions::admin::{Cli, execute, one_line, say};
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
            say(std::io::stderr(), one_line(&err));
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let done = runtime
        .map_err(|err| (1, err.to_string()))
        .and_then(|runtime| {
            runtime.block_on(async {
                let sdk_config = conversions::sdk::load_sdk_config().await;
                let sdk_config = sdk_config.map_err(|err| (2, err.to_string()))?;
                let output = execute(cli, &sdk_config).await;
                output.map_err(|err| (err.exit_code(), error_chain(&err)))
            })
        });
    match done {
        Ok((output, code)) => {
            say(std::io::stdout(), format_args!("{output:#}"));
            ExitCode::from(code)
        }
        Err((code, message)) => {
            say(std::io::stderr(), format_args!("error: {message}"));
            ExitCode::from(code)
        }
    }
}
