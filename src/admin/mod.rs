//! The operators' CLI, `conversions-admin`, on the function's own domain types and store code.
//! Every command prints one JSON document on stdout.

mod cli;
mod create;
pub mod import;

use serde_json::{Value, json};

use cli::read_secret_line;
pub use cli::{Cli, Command, one_line};
use create::create_command;

use crate::config::Config;
use crate::domain::{
    Account, AccountId, ApiKey, ApiKeyRecord, Category, ConversionType, ConversionTypeId, Currency,
    FieldDefinition, Lead, LeadId, MAX_TYPES_PER_ACCOUNT, MasterWorkflowId, Scope, Timestamp,
    WorkflowId, WorkflowRun, WorkflowRunId,
};
use crate::sdk::{dynamodb_endpoint, is_local_endpoint};
use crate::seed::seed_demo;
use crate::store::{
    DynamoStore, Erased, Provisioning, Record, Store, StoreError, TableError, create_table,
};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The operator asked for something that cannot be done (exit code 2).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Table(#[from] TableError),
    /// A file could not be read or written midway (exit code 1: an import's checkpoint resumes).
    #[error("{0}")]
    Io(String),
}

/// A line written, or not when the reader has gone (`| head`): never a panic on a closed pipe.
pub fn say(mut to: impl std::io::Write, line: impl std::fmt::Display) {
    let _ = writeln!(to, "{line}");
}

impl AdminError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid(_) => 2,
            Self::Store(_) | Self::Table(_) | Self::Io(_) => 1,
        }
    }
}

/// Runs one command against the table `sdk_config` points at, and returns what to print.
pub async fn execute(
    cli: Cli,
    sdk_config: &aws_config::SdkConfig,
) -> Result<(Value, u8), AdminError> {
    let table = cli
        .table
        .ok_or_else(|| AdminError::Invalid("no table: pass --table or set TABLE_NAME".into()))?;
    // The same rules as the function's own configuration.
    let table = Config::from_lookup(|name| (name == "TABLE_NAME").then(|| table.clone()))
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .table_name;
    if matches!(cli.command, Command::SeedDemo { allow_remote } if !allow_remote) {
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
            Ok((json!({ "table": table, "status": "ACTIVE" }), 0))
        }
        Command::EraseLead { account, lead } => {
            let store = DynamoStore::new(client, table);
            erase("lead", account, store.erase_lead(account, lead)).await
        }
        Command::EraseAccount { account } => {
            let store = DynamoStore::new(client, table);
            erase("account", account, store.erase_account(account)).await
        }
        command => run(command, &DynamoStore::new(client, table)).await,
    }
}

/// The receipt of an erasure: what it was, its account, counts by kind, start and end.
async fn erase(
    what: &str,
    account: AccountId,
    erasure: impl std::future::Future<Output = Result<Erased, StoreError>>,
) -> Result<(Value, u8), AdminError> {
    let started_at = Timestamp::now();
    let deleted = erasure.await?;
    let receipt = json!({
        "erased": what,
        "account_id": account.to_string(),
        "deleted": deleted,
        "started_at": started_at.to_string(),
        "finished_at": Timestamp::now().to_string(),
    });
    Ok((receipt, 0))
}

/// Runs one command: what to print, and the exit code (an import's is 3 when rows were rejected).
pub async fn run<P: Provisioning + Store>(
    command: Command,
    store: &P,
) -> Result<(Value, u8), AdminError> {
    match command {
        Command::Import(args) => import::run(args, store).await,
        command => Ok((run_command(command, store).await?, 0)),
    }
}

/// A conversion type from an operator's values (a command's options, an imported row), every
/// limit checked but the number of types an account holds.
#[allow(clippy::too_many_arguments)]
fn conversion_type(
    id: ConversionTypeId,
    name: String,
    description: Option<String>,
    category: Category,
    currency: Currency,
    fields: Vec<FieldDefinition>,
    workflow_id: Option<WorkflowId>,
    master_workflow_id: Option<MasterWorkflowId>,
    active: bool,
    created_at: Timestamp,
) -> Result<ConversionType, String> {
    let scope = match (workflow_id, master_workflow_id) {
        (Some(workflow), None) => Scope::Workflow(workflow),
        (None, Some(master)) => Scope::MasterWorkflow(master),
        _ => return Err("give exactly one of workflow_id and master_workflow_id".into()),
    };
    let conversion_type = ConversionType {
        id,
        name,
        description,
        category,
        currency,
        fields,
        scope,
        active,
        created_at,
    };
    conversion_type.check_limits()?;
    Ok(conversion_type)
}

async fn run_command<P: Provisioning + Store>(
    command: Command,
    store: &P,
) -> Result<Value, AdminError> {
    let now = Timestamp::now();
    match command {
        Command::Import(_) => unreachable!("run answers it"),
        Command::CreateTables | Command::EraseLead { .. } | Command::EraseAccount { .. } => {
            Err(AdminError::Invalid("this command needs DynamoDB".into()))
        }
        Command::CreateAccount { name, id, replace } => {
            if name.trim().is_empty() {
                return Err(AdminError::Invalid("--name must not be empty".into()));
            }
            let account = Account {
                id: id.unwrap_or_else(AccountId::random),
                name,
                created_at: now,
            };
            create_command(store, Record::Account(account), replace).await
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
                let keys = store.api_keys(account).await?.into_iter();
                // The key with the id asked for, else every active key.
                let chosen: Vec<_> = keys
                    .filter(|k| key_id.as_ref().map_or(k.active, |id| k.hash.id() == *id))
                    .map(|k| k.hash)
                    .collect();
                if let Some(id) = key_id.filter(|_| chosen.is_empty()) {
                    return Err(AdminError::Invalid(format!(
                        "no API key {id} in account {account}"
                    )));
                }
                chosen
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
            let conversion_type = conversion_type(
                id.unwrap_or_else(ConversionTypeId::random),
                name,
                description,
                category,
                currency,
                fields,
                workflow_id,
                master_workflow_id,
                !inactive,
                now,
            )
            .map_err(AdminError::Invalid)?;
            let types = store.conversion_types(account).await?;
            if types.len() >= MAX_TYPES_PER_ACCOUNT
                && types.iter().all(|t| t.id != conversion_type.id)
            {
                return Err(AdminError::Invalid(format!(
                    "account {account} has {MAX_TYPES_PER_ACCOUNT} conversion types, the most it \
                     may have: deactivate-conversion-type does not free a place, \
                     create-conversion-type --replace reuses one"
                )));
            }
            let record = Record::ConversionType(account, conversion_type);
            create_command(store, record, replace).await
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
            create_command(store, Record::Lead(account, lead), false).await
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
            create_command(store, Record::WorkflowRun(account, run), replace).await
        }
        Command::SeedDemo { .. } => {
            let demo = seed_demo(store).await?;
            let conversion_type = Record::ConversionType(demo.account.id, demo.conversion_type);
            Ok(json!({
                "account": record_json(&Record::Account(demo.account)),
                "api_key": demo.api_key.expose(),
                "conversion_type": record_json(&conversion_type),
                "lead_id": demo.lead.id.to_string(),
                "workflow_run_id": demo.workflow_run.id.to_string(),
            }))
        }
        Command::ListConversionTypes { account } => {
            require_account(store, account).await?;
            let types = crate::service::conversion_types(store, account).await?;
            Ok(json!({
                "conversion_types": types
                    .into_iter()
                    .map(|t| record_json(&Record::ConversionType(account, t)))
                    .collect::<Vec<_>>()
            }))
        }
        Command::ListConversions { account, query } => {
            require_account(store, account).await?;
            let page = crate::http::page_request(&query, account).map_err(|errors| {
                let messages: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
                AdminError::Invalid(messages.join("; "))
            })?;
            // Standard output carries any page.
            let listing =
                crate::service::list_conversions(store, account, page, <[_]>::len).await?;
            let events = crate::http::render_events(&listing.events);
            let body = crate::http::listing_json(&listing, &events);
            Ok(serde_json::from_str(&body).expect("the list body is JSON"))
        }
    }
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
    let record = Record::ConversionType(account, conversion_type);
    store.put(&record).await?;
    Ok(record_json(&record))
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

pub(super) async fn require_account<P: Provisioning>(
    store: &P,
    account: AccountId,
) -> Result<(), AdminError> {
    match store.get_account(account).await? {
        Some(_) => Ok(()),
        None => Err(AdminError::Invalid(format!(
            "no account {account}: create it with create-account"
        ))),
    }
}

/// A record as the commands print it; a conversion type as `GET /conversion-types` lists it, plus
/// `active`.
fn record_json(record: &Record) -> Value {
    match record {
        Record::Account(a) => {
            json!({ "id": a.id.to_string(), "name": a.name, "created_at": a.created_at.to_string() })
        }
        Record::ConversionType(_, t) => {
            let mut value = crate::http::conversion_type_value(t);
            value["active"] = t.active.into();
            value
        }
        Record::Lead(account, lead) => json!({
            "id": lead.id.to_string(),
            "account_id": account.to_string(),
            "created_at": lead.created_at.to_string(),
        }),
        Record::WorkflowRun(_, run) => json!({
            "id": run.id.to_string(),
            "lead_id": run.lead_id.to_string(),
            "workflow_id": run.workflow_id.to_string(),
            "master_workflow_id": run.master_workflow_id.map(|id| id.to_string()),
            "created_at": run.created_at.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::cli::parse_field;
    use super::*;
    use crate::domain::{FieldType, WorkflowId};

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
        let account = run_command(command(&["create-account", "--name", "A"]), &store)
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
        assert!(refused(run_command(command(&args), &store).await).contains("name"));
        for n in 0..MAX_TYPES_PER_ACCOUNT {
            let extra: &[&str] = if n == 0 { &["--inactive"] } else { &[] };
            let args = create(format!("T{n}"), extra);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_command(command(&args), &store).await.unwrap();
        }
        let args = create("One more".into(), &[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert!(
            refused(run_command(command(&args), &store).await).contains("the most it may have")
        );
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
