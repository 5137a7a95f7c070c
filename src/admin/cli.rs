//! The command line: every command, its arguments and their parsing, and clap's errors as one
//! line.

use clap::{ArgGroup, Parser, Subcommand};

use crate::domain::{
    AccountId, ApiKeyId, Category, ConversionTypeId, Currency, FieldDefinition, FieldType, LeadId,
    MasterWorkflowId, WorkflowId, WorkflowRunId,
};

/// Provision the Conversions table: accounts, API keys, conversion types, leads, workflow runs.
///
/// Talks to the DynamoDB that the AWS SDK's standard environment points at (`AWS_REGION`,
/// credentials, and `AWS_ENDPOINT_URL_DYNAMODB` for a local server).
#[derive(Debug, Parser)]
#[command(name = "conversions-admin", version)]
pub struct Cli {
    /// The DynamoDB table.
    #[arg(long, env = "TABLE_NAME", global = true)]
    pub table: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the table and its indexes as template.yaml declares them (for local use); a table
    /// that exists is left as it is.
    CreateTables,
    /// Create an account. With --id of an existing one: the same name is reported as existing
    /// (exit 0), another is refused unless --replace.
    CreateAccount {
        #[arg(long)]
        name: String,
        /// Use this id instead of a random one.
        #[arg(long)]
        id: Option<AccountId>,
        /// Overwrite a record with this id that holds other values (its created_at is kept).
        #[arg(long, requires = "id")]
        replace: bool,
    },
    /// Create an API key for an account, printed once beside its id; only its hash is stored. It
    /// names its account (nxr_live_<account>_<secret>), which saves a round trip per request.
    CreateApiKey {
        #[arg(long)]
        account: AccountId,
    },
    /// List an account's API keys, active and revoked, by id (never the keys).
    ListApiKeys {
        #[arg(long)]
        account: AccountId,
    },
    /// Revoke API keys: requests with them get 401 Invalid API key from then on. By id, every
    /// key of an account, or the key itself read from standard input (never from the command
    /// line, where shell history and ps would keep it; not echoed on a terminal).
    #[command(group(ArgGroup::new("which").required(true).args(["key_id", "all", "stdin"])))]
    RevokeApiKey {
        /// The account of the key (--key-id) or keys (--all).
        #[arg(long, required_unless_present = "stdin", conflicts_with = "stdin")]
        account: Option<AccountId>,
        /// The key's id, as create-api-key and list-api-keys print it.
        #[arg(long, value_parser = ApiKeyId::parse)]
        key_id: Option<ApiKeyId>,
        /// Every key of the account.
        #[arg(long)]
        all: bool,
        /// Read the key (nxr_live_...) from standard input.
        #[arg(long)]
        stdin: bool,
    },
    /// Create a conversion type, scoped to a workflow or a master workflow. With --id of an
    /// existing one: the same values are reported as existing (exit 0), others need --replace.
    #[command(group(ArgGroup::new("scope").required(true).args(["workflow_id", "master_workflow_id"])))]
    CreateConversionType {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// intermediary or final.
        #[arg(long)]
        category: Category,
        /// The default ISO 4217 currency of its events.
        #[arg(long)]
        currency: Currency,
        /// A custom field, key:label:text or key:label:number; repeat for more.
        #[arg(long = "field", value_parser = parse_field)]
        fields: Vec<FieldDefinition>,
        #[arg(long)]
        workflow_id: Option<WorkflowId>,
        #[arg(long)]
        master_workflow_id: Option<MasterWorkflowId>,
        /// Create it inactive (it cannot be used until activate-conversion-type).
        #[arg(long)]
        inactive: bool,
        /// Use this id instead of a random one.
        #[arg(long)]
        id: Option<ConversionTypeId>,
        /// Overwrite a record with this id that holds other values (its created_at is kept).
        #[arg(long, requires = "id")]
        replace: bool,
    },
    /// Deactivate a conversion type: new events of that type are refused.
    DeactivateConversionType {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        id: ConversionTypeId,
    },
    /// Activate a conversion type again: new events of that type are accepted.
    ActivateConversionType {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        id: ConversionTypeId,
    },
    /// Create a lead (one that exists is reported as existing).
    CreateLead {
        #[arg(long)]
        account: AccountId,
        /// Use this id instead of a random one.
        #[arg(long)]
        id: Option<LeadId>,
    },
    /// Create a workflow run: one lead's enrollment in one workflow. With --id of an existing one:
    /// the same values are reported as existing (exit 0), others are refused unless --replace.
    CreateWorkflowRun {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        lead_id: LeadId,
        #[arg(long)]
        workflow_id: WorkflowId,
        /// The master workflow the workflow belongs to, if any.
        #[arg(long)]
        master_workflow_id: Option<MasterWorkflowId>,
        /// Use this id instead of a random one.
        #[arg(long)]
        id: Option<WorkflowRunId>,
        /// Overwrite a record with this id that holds other values (its created_at is kept).
        #[arg(long, requires = "id")]
        replace: bool,
    },
    /// Create the demo account, key and the reference page's example records (idempotent). Its
    /// API key is public: only against a local DynamoDB (an http:// endpoint on a loopback or
    /// private address, localhost or host.docker.internal) unless --allow-remote.
    SeedDemo {
        /// Seed a table that is not local all the same.
        #[arg(long)]
        allow_remote: bool,
    },
    /// List an account's conversion types, active and inactive, oldest first.
    ListConversionTypes {
        #[arg(long)]
        account: AccountId,
    },
    /// Import a CSV (header row) or JSON Lines file of conversion-types, leads, workflow-runs,
    /// conversions or adjustments (in that order of dependency), with the API's field names. Bad rows go to
    /// FILE.rejects.csv|jsonl; a checkpoint beside the file lets a re-run resume. Exit 0, 3 when
    /// rows were rejected, 1 when stopped (checkpoint kept), 2 on bad usage.
    Import(super::import::ImportArgs),
    /// Erase a lead: announces it on the change feed (lead.erased), then deletes the lead, its
    /// events (with their adjustments, adjustment keys and feed changes) and its workflow runs,
    /// however many. Prints a receipt (counts by kind, start and end; no id but the account's, no
    /// values). Run it again to finish an interrupted erasure, or after sources stopped sending
    /// for the lead.
    EraseLead {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        lead: LeadId,
    },
    /// Erase an account: its API keys first (they stop working at once), then everything it
    /// holds. Prints a receipt as erase-lead does; run it again to finish an interrupted one.
    EraseAccount {
        #[arg(long)]
        account: AccountId,
    },
    /// List an account's conversion events, newest first: the body GET /conversions answers.
    ListConversions {
        #[arg(long)]
        account: AccountId,
        /// GET /conversions's query string, with its parameters and rules:
        /// 'lead_id=...&limit=10&cursor=...'.
        #[arg(long, default_value = "")]
        query: String,
    },
}

/// `key:label:type`; the key and label rules are the type's ([`ConversionType::check_limits`]).
pub(super) fn parse_field(text: &str) -> Result<FieldDefinition, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(key), Some(label), Some(kind)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "{text:?} is not key:label:text or key:label:number"
        ));
    };
    Ok(FieldDefinition {
        key: key.to_owned(),
        label: label.to_owned(),
        field_type: kind.parse::<FieldType>()?,
    })
}

/// Renders a clap error as one line (`error: ...`), for scripts reading stderr.
pub fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let text: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    text.join(" ")
}

/// One line from standard input, not echoed when it is a terminal.
pub(super) fn read_secret_line() -> std::io::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let echoing = if stdin.is_terminal() {
        eprint!("API key: ");
        let echoing = tcgetattr(&stdin)?;
        let mut quiet = echoing.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        tcsetattr(&stdin, OptionalActions::Now, &quiet)?;
        Some(echoing)
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(echoing) = echoing {
        tcsetattr(&stdin, OptionalActions::Now, &echoing)?;
        eprintln!();
    }
    read?;
    Ok(line.trim().to_owned())
}
