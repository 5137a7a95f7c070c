//! The operators' command-line tool, `conversions-admin`: provisions accounts, API keys and the
//! records conversions refer to, through the same domain types and store code as the function.
//! Every command prints one JSON document on stdout.

use clap::{ArgGroup, Parser, Subcommand};
use serde_json::{Value, json};

use crate::config::{Config, dynamodb_endpoint, is_local_endpoint};
use crate::domain::{
    Account, AccountId, ApiKey, ApiKeyId, ApiKeyRecord, Category, ConversionType, ConversionTypeId,
    Currency, Cursor, EventFilter, FieldDefinition, FieldType, Lead, LeadId, Limit, MAX_LIMIT,
    MAX_OFFSET, MAX_TYPES_PER_ACCOUNT, MasterWorkflowId, Offset, PageRequest, Scope, Timestamp,
    Window, WorkflowId, WorkflowRun, WorkflowRunId,
};
use crate::seed::seed_demo;
use crate::store::{DynamoStore, Provisioning, Store, StoreError, TableError, create_table};

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
    /// Create an API key for an account. The key is printed once, beside its id; only its hash
    /// is stored. It names its account (nxr_live_<account>_<secret>), which saves a round trip
    /// per request.
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
    /// existing one: the same values are reported as existing (exit 0), others are refused
    /// unless --replace.
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
    /// Create a workflow run: one lead's enrollment in one workflow. With --id of an existing
    /// one: the same values are reported as existing (exit 0), others are refused unless
    /// --replace.
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
    /// List an account's conversion events, newest first: the body GET /conversions answers.
    ListConversions {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        lead_id: Option<LeadId>,
        #[arg(long)]
        workflow_id: Option<WorkflowId>,
        #[arg(long)]
        master_workflow_id: Option<MasterWorkflowId>,
        #[arg(long)]
        workflow_run_id: Option<WorkflowRunId>,
        #[arg(long)]
        conversion_type_id: Option<ConversionTypeId>,
        /// Converted at or after this instant (RFC 3339).
        #[arg(long, value_parser = parse_instant)]
        converted_after: Option<Timestamp>,
        /// Converted strictly before this instant (RFC 3339).
        #[arg(long, value_parser = parse_instant)]
        converted_before: Option<Timestamp>,
        /// Events per page, 1 to 200.
        #[arg(long, value_parser = parse_limit, default_value = "50")]
        limit: Limit,
        /// Matching events to skip, 0 to 10000.
        #[arg(long, value_parser = parse_offset, default_value = "0")]
        offset: Offset,
        /// The next_cursor of the previous page (with the same filters).
        #[arg(long)]
        cursor: Option<String>,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The operator asked for something that cannot be done (exit code 2).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Table(#[from] TableError),
}

impl AdminError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid(_) => 2,
            Self::Store(_) | Self::Table(_) => 1,
        }
    }
}

/// `key:label:type`; the key and label rules are the type's ([`ConversionType::check_limits`]).
fn parse_field(text: &str) -> Result<FieldDefinition, String> {
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

fn parse_instant(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|_| "not an RFC 3339 date-time with a zone".to_owned())
}

fn parse_limit(text: &str) -> Result<Limit, String> {
    Limit::parse(text).ok_or(format!("not an integer from 1 to {MAX_LIMIT}"))
}

fn parse_offset(text: &str) -> Result<Offset, String> {
    Offset::parse(text).ok_or(format!("not an integer from 0 to {MAX_OFFSET}"))
}

/// Runs one command against the table `sdk_config` points at, and returns what to print.
pub async fn execute(cli: Cli, sdk_config: &aws_config::SdkConfig) -> Result<Value, AdminError> {
    let table = cli
        .table
        .ok_or_else(|| AdminError::Invalid("no table: pass --table or set TABLE_NAME".into()))?;
    // The same rules as the function's own configuration.
    let table = Config::from_lookup(|name| (name == "TABLE_NAME").then(|| table.clone()))
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .table_name;
    if let Command::SeedDemo {
        allow_remote: false,
    } = cli.command
    {
        let endpoint = dynamodb_endpoint(sdk_config);
        if !endpoint.as_deref().is_some_and(is_local_endpoint) {
            return Err(AdminError::Invalid(format!(
                "seed-demo writes a public API key: it seeds only a local DynamoDB (an http:// \
                 endpoint on a loopback or private address, localhost or host.docker.internal), \
                 and this is {}; --allow-remote seeds it all the same",
                endpoint.unwrap_or_else(|| "DynamoDB in AWS".into())
            )));
        }
    }
    let client = aws_sdk_dynamodb::Client::new(sdk_config);
    match cli.command {
        Command::CreateTables => {
            create_table(&client, &table).await?;
            Ok(json!({ "table": table, "status": "ACTIVE" }))
        }
        command => run(command, &DynamoStore::new(client, table)).await,
    }
}

/// Runs a command on any store.
pub async fn run<P: Provisioning + Store>(
    command: Command,
    store: &P,
) -> Result<Value, AdminError> {
    let now = Timestamp::now();
    match command {
        Command::CreateTables => Err(AdminError::Invalid("create-tables needs DynamoDB".into())),
        Command::CreateAccount { name, id, replace } => {
            if name.trim().is_empty() {
                return Err(AdminError::Invalid("--name must not be empty".into()));
            }
            let account = Account {
                id: id.unwrap_or_else(AccountId::random),
                name,
                created_at: now,
            };
            let existing = match id {
                Some(id) => store.get_account(id).await?,
                None => None,
            };
            let (account, status) = match decide(existing, account, replace)? {
                Decision::Exists(existing) => (existing, "exists"),
                Decision::Write(account, status) => {
                    store.put_account(&account).await?;
                    (account, status)
                }
            };
            Ok(with_status(account_json(&account), status))
        }
        Command::CreateApiKey { account } => {
            require_account(store, account).await?;
            let key = ApiKey::generate_for(account);
            store.put_api_key(&key.hash(), account).await?;
            Ok(json!({
                "account_id": account.to_string(),
                "key_id": key.hash().id().to_string(),
                "api_key": key.expose(),
                "created_at": now.to_string(),
            }))
        }
        Command::ListApiKeys { account } => {
            require_account(store, account).await?;
            let keys = store.api_keys(account).await?;
            Ok(json!({ "api_keys": keys.iter().map(api_key_json).collect::<Vec<_>>() }))
        }
        // Without --key-id or --stdin, clap has required --all.
        Command::RevokeApiKey {
            account,
            key_id,
            all: _,
            stdin,
        } => {
            let hashes = if stdin {
                let text = read_secret_line().map_err(|e| {
                    AdminError::Invalid(format!("could not read the key from standard input: {e}"))
                })?;
                let key = ApiKey::parse(&text).map_err(|_| {
                    AdminError::Invalid("standard input holds no nxr_live_ API key".into())
                })?;
                vec![key.hash()]
            } else {
                let account = account.expect("clap requires --account without --stdin");
                require_account(store, account).await?;
                let keys = store.api_keys(account).await?;
                match key_id {
                    Some(id) => {
                        let key =
                            keys.into_iter()
                                .find(|k| k.hash.id() == id)
                                .ok_or_else(|| {
                                    AdminError::Invalid(format!(
                                        "no API key {id} in account {account}"
                                    ))
                                })?;
                        vec![key.hash]
                    }
                    None => keys
                        .into_iter()
                        .filter(|k| k.active)
                        .map(|k| k.hash)
                        .collect(),
                }
            };
            let mut revoked = Vec::new();
            for hash in hashes {
                if !store.revoke_api_key(&hash).await? {
                    return Err(AdminError::Invalid("no such API key".into()));
                }
                revoked.push(hash.id().to_string());
            }
            Ok(json!({ "revoked": revoked }))
        }
        Command::CreateConversionType {
            account,
            name,
            description,
            category,
            currency,
            fields,
            workflow_id,
            master_workflow_id,
            inactive,
            id,
            replace,
        } => {
            require_account(store, account).await?;
            let scope = match (workflow_id, master_workflow_id) {
                (Some(workflow), None) => Scope::Workflow(workflow),
                (None, Some(master)) => Scope::MasterWorkflow(master),
                _ => {
                    return Err(AdminError::Invalid(
                        "give exactly one of --workflow-id and --master-workflow-id".into(),
                    ));
                }
            };
            let conversion_type = ConversionType {
                id: id.unwrap_or_else(ConversionTypeId::random),
                name,
                description,
                category,
                currency,
                fields,
                scope,
                active: !inactive,
                created_at: now,
            };
            conversion_type
                .check_limits()
                .map_err(AdminError::Invalid)?;
            let types = store.conversion_types(account).await?;
            let existing = types.iter().find(|t| t.id == conversion_type.id).cloned();
            if existing.is_none() && types.len() >= MAX_TYPES_PER_ACCOUNT {
                return Err(AdminError::Invalid(format!(
                    "account {account} has {MAX_TYPES_PER_ACCOUNT} conversion types, the most it \
                     may have: deactivate-conversion-type does not free a place, \
                     create-conversion-type --replace reuses one"
                )));
            }
            let (conversion_type, status) = match decide(existing, conversion_type, replace)? {
                Decision::Exists(existing) => (existing, "exists"),
                Decision::Write(conversion_type, status) => {
                    store.put_conversion_type(account, &conversion_type).await?;
                    (conversion_type, status)
                }
            };
            Ok(with_status(conversion_type_json(&conversion_type), status))
        }
        Command::DeactivateConversionType { account, id } => {
            set_active(store, account, id, false).await
        }
        Command::ActivateConversionType { account, id } => {
            set_active(store, account, id, true).await
        }
        Command::CreateLead { account, id } => {
            require_account(store, account).await?;
            let lead = Lead {
                id: id.unwrap_or_else(LeadId::random),
                created_at: now,
            };
            let existing = match id {
                Some(id) => store.get_lead(account, id).await?,
                None => None,
            };
            let (lead, status) = match decide(existing, lead, false)? {
                Decision::Exists(existing) => (existing, "exists"),
                Decision::Write(lead, status) => {
                    store.put_lead(account, &lead).await?;
                    (lead, status)
                }
            };
            Ok(json!({
                "id": lead.id.to_string(),
                "account_id": account.to_string(),
                "created_at": lead.created_at.to_string(),
                "status": status,
            }))
        }
        Command::CreateWorkflowRun {
            account,
            lead_id,
            workflow_id,
            master_workflow_id,
            id,
            replace,
        } => {
            require_account(store, account).await?;
            if store.get_lead(account, lead_id).await?.is_none() {
                return Err(AdminError::Invalid(format!(
                    "no lead {lead_id} in account {account}"
                )));
            }
            let run = WorkflowRun {
                id: id.unwrap_or_else(WorkflowRunId::random),
                lead_id,
                workflow_id,
                master_workflow_id,
                created_at: now,
            };
            let existing = match id {
                Some(id) => store.get_workflow_run(account, id).await?,
                None => None,
            };
            let (run, status) = match decide(existing, run, replace)? {
                Decision::Exists(existing) => (existing, "exists"),
                Decision::Write(run, status) => {
                    store.put_workflow_run(account, &run).await?;
                    (run, status)
                }
            };
            Ok(json!({
                "id": run.id.to_string(),
                "lead_id": run.lead_id.to_string(),
                "workflow_id": run.workflow_id.to_string(),
                "master_workflow_id": run.master_workflow_id.map(|id| id.to_string()),
                "created_at": run.created_at.to_string(),
                "status": status,
            }))
        }
        Command::SeedDemo { .. } => {
            let demo = seed_demo(store).await?;
            Ok(json!({
                "account": account_json(&demo.account),
                "api_key": demo.api_key.expose(),
                "conversion_type": conversion_type_json(&demo.conversion_type),
                "lead_id": demo.lead.id.to_string(),
                "workflow_run_id": demo.workflow_run.id.to_string(),
            }))
        }
        Command::ListConversionTypes { account } => {
            require_account(store, account).await?;
            let types = crate::service::conversion_types(store, account).await?;
            Ok(json!({
                "conversion_types": types.iter().map(conversion_type_json).collect::<Vec<_>>()
            }))
        }
        Command::ListConversions {
            account,
            lead_id,
            workflow_id,
            master_workflow_id,
            workflow_run_id,
            conversion_type_id,
            converted_after,
            converted_before,
            limit,
            offset,
            cursor,
        } => {
            require_account(store, account).await?;
            let filter = EventFilter {
                lead: lead_id,
                workflow: workflow_id,
                master_workflow: master_workflow_id,
                workflow_run: workflow_run_id,
                conversion_type: conversion_type_id,
                window: Window::new(converted_after, converted_before)
                    .map_err(|e| AdminError::Invalid(e.to_string()))?,
            };
            let resume = cursor
                .map(|text| Cursor::read(&text, account, &filter))
                .transpose()
                .map_err(|e| AdminError::Invalid(e.to_string()))?;
            let page = PageRequest::new(filter, resume, offset, limit);
            // Standard output carries any page.
            let listing =
                crate::service::list_conversions(store, account, page, <[_]>::len).await?;
            let events = crate::http::render_events(&listing.events);
            Ok(
                serde_json::from_str(&crate::http::listing_json(&listing, &events))
                    .expect("the list body is JSON"),
            )
        }
    }
}

/// A record the create commands write, compared by the fields an operator gives.
trait Record: Sized {
    const KIND: &'static str;
    fn id(&self) -> String;
    fn created_at(&mut self) -> &mut Timestamp;

    /// The same record, but for when it was created.
    fn same(&self, other: &Self) -> bool;
}

macro_rules! record {
    ($type:ty, $kind:literal) => {
        impl Record for $type {
            const KIND: &'static str = $kind;
            fn id(&self) -> String {
                self.id.to_string()
            }
            fn created_at(&mut self) -> &mut Timestamp {
                &mut self.created_at
            }
            fn same(&self, other: &Self) -> bool {
                let mut other = other.clone();
                other.created_at = self.created_at;
                *self == other
            }
        }
    };
}

record!(Account, "account");
record!(ConversionType, "conversion type");
record!(Lead, "lead");
record!(WorkflowRun, "workflow run");

/// What a create command does.
enum Decision<T> {
    /// Nothing: the record exists and holds the same values.
    Exists(T),
    /// Writes the record: `created`, or `replaced` (keeping the first `created_at`).
    Write(T, &'static str),
}

/// The one rule of every create command: a new id is written; an existing record that holds the
/// same values is reported as it is; one that holds others is refused, unless `replace`.
fn decide<T: Record>(
    existing: Option<T>,
    mut new: T,
    replace: bool,
) -> Result<Decision<T>, AdminError> {
    match existing {
        None => Ok(Decision::Write(new, "created")),
        Some(existing) if existing.same(&new) => Ok(Decision::Exists(existing)),
        Some(mut existing) if replace => {
            *new.created_at() = *existing.created_at();
            Ok(Decision::Write(new, "replaced"))
        }
        Some(_) => Err(AdminError::Invalid(format!(
            "{} {} exists with other values: --replace overwrites it",
            T::KIND,
            new.id()
        ))),
    }
}

fn with_status(mut record: Value, status: &str) -> Value {
    record["status"] = status.into();
    record
}

async fn set_active<S: Provisioning + Store>(
    store: &S,
    account: AccountId,
    id: ConversionTypeId,
    active: bool,
) -> Result<Value, AdminError> {
    let mut conversion_type = store.conversion_type(account, id).await?.ok_or_else(|| {
        AdminError::Invalid(format!("no conversion type {id} in account {account}"))
    })?;
    conversion_type.active = active;
    store.put_conversion_type(account, &conversion_type).await?;
    Ok(conversion_type_json(&conversion_type))
}

/// One line from standard input, not echoed when it is a terminal.
fn read_secret_line() -> std::io::Result<String> {
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

fn api_key_json(key: &ApiKeyRecord) -> Value {
    json!({
        "key_id": key.hash.id().to_string(),
        "account_id": key.account.to_string(),
        "status": if key.active { "active" } else { "revoked" },
        "created_at": key.created_at.to_string(),
        "revoked_at": key.revoked_at.map(|at| at.to_string()),
    })
}

async fn require_account<P: Provisioning>(store: &P, account: AccountId) -> Result<(), AdminError> {
    match store.get_account(account).await? {
        Some(_) => Ok(()),
        None => Err(AdminError::Invalid(format!(
            "no account {account}: create it with create-account"
        ))),
    }
}

fn account_json(account: &Account) -> Value {
    json!({ "id": account.id.to_string(), "name": account.name, "created_at": account.created_at.to_string() })
}

/// The shape of `GET /conversion-types` items, plus `active`.
fn conversion_type_json(t: &ConversionType) -> Value {
    let mut value = crate::http::conversion_type_value(t);
    value["active"] = t.active.into();
    value
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_key_label_and_type() {
        let field = parse_field("property_unit:Property / Unit:text").unwrap();
        assert_eq!(
            (field.key.as_str(), field.label.as_str(), field.field_type),
            ("property_unit", "Property / Unit", FieldType::Text)
        );
        assert_eq!(
            parse_field("commission:Commission:number")
                .unwrap()
                .field_type,
            FieldType::Number
        );
        for bad in ["broker", "broker:Broker", "broker:Broker:date"] {
            assert!(parse_field(bad).is_err(), "{bad}");
        }
    }

    /// The 101st type of an account is refused, inactive ones counted; a type past a limit
    /// is refused with the limit named.
    #[tokio::test]
    async fn an_account_holds_at_most_the_most_types() {
        let store = crate::store::MemoryStore::new();
        let command = |args: &[&str]| {
            let mut all = vec!["conversions-admin"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).unwrap().command
        };
        let account = run(command(&["create-account", "--name", "A"]), &store)
            .await
            .unwrap();
        let account = account["id"].as_str().unwrap().to_owned();
        let workflow = WorkflowId::random().to_string();
        let create = |name: String, extra: &[&str]| {
            let mut args = vec![
                "create-conversion-type".to_owned(),
                "--account".into(),
                account.clone(),
                "--name".into(),
                name,
                "--category".into(),
                "final".into(),
                "--currency".into(),
                "USD".into(),
                "--workflow-id".into(),
                workflow.clone(),
            ];
            args.extend(extra.iter().map(|a| (*a).to_owned()));
            args
        };
        let refused = |result: Result<Value, AdminError>| match result {
            Err(AdminError::Invalid(message)) => message,
            other => panic!("{other:?}"),
        };
        let too_long = "n".repeat(crate::domain::MAX_TYPE_NAME_CHARS + 1);
        let args = create(too_long, &[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert!(refused(run(command(&args), &store).await).contains("name"));
        for n in 0..MAX_TYPES_PER_ACCOUNT {
            let extra: &[&str] = if n == 0 { &["--inactive"] } else { &[] };
            let args = create(format!("T{n}"), extra);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(command(&args), &store).await.unwrap();
        }
        let args = create("One more".into(), &[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert!(refused(run(command(&args), &store).await).contains("the most it may have"));
    }

    #[test]
    fn clap_errors_become_one_line() {
        let err = Cli::try_parse_from(["conversions-admin", "create-account"]).unwrap_err();
        let line = one_line(&err);
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with("error:") && line.contains("--name"),
            "{line}"
        );
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
