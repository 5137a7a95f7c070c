//! `conversions-admin`: wiring only; the commands live in `conversions::admin`.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use conversions::admin::{Cli, execute, one_line};
use conversions::telemetry::error_chain;

#[tokio::main]
async fn main() -> ExitCode {
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
    let sdk_config = match conversions::config::load_sdk_config().await {
        Ok(sdk_config) => sdk_config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    match execute(cli, aws_sdk_dynamodb::Client::new(&sdk_config)).await {
        Ok(output) => {
            println!("{output:#}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            ExitCode::from(err.exit_code())
        }
    }
}
