//! The `conversions-admin` binary against dynalite and moto, configured only through the SDK's
//! standard environment (`AWS_ENDPOINT_URL_DYNAMODB`) and `TABLE_NAME`, as an operator runs it.

use std::process::{Command, Output};

use crate::helpers::{Backend, backends, body_json, fixture, on_each_backend};
use conversions::http::App;
use conversions::store::DynamoStore;
use serde_json::Value;

pub(crate) struct Admin<'a> {
    backend: &'a Backend,
    pub(crate) table: String,
}

impl<'a> Admin<'a> {
    pub(crate) fn new(backend: &'a Backend) -> Self {
        Self {
            backend,
            table: format!("admin-test-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// On a table made before (another thread's handle on it).
    pub(crate) fn on(backend: &'a Backend, table: &str) -> Self {
        Self {
            backend,
            table: table.to_owned(),
        }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_at(&self.backend.endpoint, args)
    }

    pub(crate) fn run_at(&self, endpoint: &str, args: &[&str]) -> Output {
        self.command(endpoint, args)
            .output()
            .expect("the admin binary runs")
    }

    pub(crate) fn command(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_conversions-admin"));
        command
            .args(args)
            .env("TABLE_NAME", &self.table)
            .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE");
        command
    }

    /// `revoke-api-key --stdin`, the key written to its standard input.
    fn revoke_from_stdin(&self, key: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(&self.backend.endpoint, &["revoke-api-key", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the admin binary runs");
        writeln!(child.stdin.take().unwrap(), "{key}").unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed, and returns its JSON output.
    pub(crate) fn ok(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{}: {args:?} failed: {stderr}",
            self.backend.name
        );
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON: {e}"))
    }

    /// Runs a command that must fail on bad input: exit 2, nothing on stdout, one line on stderr.
    fn refused(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}: {args:?}",
            self.backend.name
        );
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: one line, got {stderr:?}"
        );
        assert!(stderr.starts_with("error: "), "{stderr}");
        stderr.trim_end().to_owned()
    }

    pub(crate) fn app(&self) -> App<DynamoStore> {
        App::new(DynamoStore::new(self.backend.client(), &self.table))
    }
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
}

async fn post(app: &App<DynamoStore>, key: &str, body: String) -> (u16, Value) {
    let response = app.handle(crate::helpers::post_as(key, body)).await;
    (response.status().as_u16(), body_json(&response))
}

#[tokio::test]
async fn the_commands_provision_everything_a_conversion_needs() {
    on_each_backend(|backend| async move {
        let admin = Admin::new(&backend);
        assert_eq!(text(&admin.ok(&["create-tables"]), "status"), "ACTIVE");
        admin.ok(&["create-tables"]);

        let account = admin.ok(&["create-account", "--name", "Inmobiliaria Andes"]);
        let account_id = text(&account, "id");
        let key = admin.ok(&["create-api-key", "--account", account_id]);
        let key = text(&key, "api_key").to_owned();
        assert!(key.starts_with("nxr_live_"), "{key}");

        let workflow = "6f1c2a4e-1d2b-4c3a-9e8f-0a1b2c3d4e5f";
        let conversion_type = admin.ok(&[
            "create-conversion-type",
            "--account",
            account_id,
            "--name",
            "Reserva",
            "--description",
            "Deposit",
            "--category",
            "intermediary",
            "--currency",
            "CLF",
            "--workflow-id",
            workflow,
            "--field",
            "property_unit:Property / Unit:text",
            "--field",
            "commission:Commission:number",
        ]);
        assert_eq!(
            conversion_type["fields"][1],
            serde_json::json!({"key": "commission", "label": "Commission", "type": "number"})
        );
        assert_eq!(conversion_type["active"], true);
        let type_id = text(&conversion_type, "id");
        let lead_id = text(&admin.ok(&["create-lead", "--account", account_id]), "id").to_owned();
        let run = admin.ok(&[
            "create-workflow-run",
            "--account",
            account_id,
            "--lead-id",
            &lead_id,
            "--workflow-id",
            workflow,
        ]);
        let run_id = text(&run, "id");

        let app = admin.app();
        let body = format!(
            r#"{{"conversion_type_id":"{type_id}","lead_id":"{lead_id}","workflow_run_id":"{run_id}","amount":12.5}}"#
        );
        let (status, created) = post(&app, &key, body.clone()).await;
        assert_eq!(status, 201, "{}: {created}", backend.name);
        assert_eq!(created["conversion_event"]["currency"], "CLF");
        assert_eq!(created["conversion_event"]["workflow_id"], workflow);

        admin.ok(&[
            "deactivate-conversion-type",
            "--account",
            account_id,
            "--id",
            type_id,
        ]);
        let (status, refused) = post(&app, &key, body.clone()).await;
        assert_eq!(
            (status, text(&refused, "message")),
            (
                400,
                "conversion_type_id not found, inactive, or does not belong to your account"
            )
        );

        let activated = admin.ok(&[
            "activate-conversion-type",
            "--account",
            account_id,
            "--id",
            type_id,
        ]);
        assert_eq!(activated["active"], true);
        let (status, created) = post(&app, &key, body.clone()).await;
        assert_eq!(status, 201, "{}: active again: {created}", backend.name);

        let revoked = admin.revoke_from_stdin(&key);
        assert!(revoked.status.success(), "{revoked:?}");
        let revoked: Value = serde_json::from_slice(&revoked.stdout).unwrap();
        assert_eq!(revoked["revoked"].as_array().unwrap().len(), 1, "{revoked}");
        let (status, refused) = post(&app, &key, body).await;
        assert_eq!(
            (status, text(&refused, "error")),
            (401, "Invalid API key"),
            "{}",
            backend.name
        );
    })
    .await;
}

#[tokio::test]
async fn the_list_commands_show_what_the_api_lists() {
    use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_LEAD_ID};
    on_each_backend(|backend| async move {
        let admin = Admin::new(&backend);
        admin.ok(&["create-tables"]);
        admin.ok(&["seed-demo"]);
        let types = admin.ok(&["list-conversion-types", "--account", DEMO_ACCOUNT_ID]);
        let names: Vec<(&str, bool)> = types["conversion_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap(), t["active"].as_bool().unwrap()))
            .collect();
        assert_eq!(names.len(), 2, "{}: {types}", backend.name);
        assert!(names.contains(&("Reserva", true)) && names.contains(&("Venta", false)));

        let app = admin.app();
        for name in [
            "create-minimal",
            "create-with-workflow-run",
            "create-with-metadata",
        ] {
            assert_eq!(app.handle(fixture(name)).await.status(), 201);
        }
        let api = body_json(
            &app.handle(
                conversions::http::Request::new("GET", "/conversions")
                    .with_query(&format!("lead_id={DEMO_LEAD_ID}&limit=2"))
                    .with_header("x-api-key", DEMO_API_KEY),
            )
            .await,
        );
        let query = format!("lead_id={DEMO_LEAD_ID}&limit=2");
        let listed = admin.ok(&[
            "list-conversions",
            "--account",
            DEMO_ACCOUNT_ID,
            "--query",
            &query,
        ]);
        assert_eq!(listed, api, "{}", backend.name);
        assert_eq!(listed["total"], 3);
        let cursor = listed["next_cursor"].as_str().unwrap();
        let rest = admin.ok(&[
            "list-conversions",
            "--account",
            DEMO_ACCOUNT_ID,
            "--query",
            &format!("lead_id={DEMO_LEAD_ID}&cursor={cursor}"),
        ]);
        assert_eq!(rest["conversion_events"].as_array().unwrap().len(), 1);
        assert_eq!(rest["next_cursor"], Value::Null);
        let refused = admin.refused(&[
            "list-conversions",
            "--account",
            DEMO_ACCOUNT_ID,
            "--query",
            &format!("cursor={cursor}"),
        ]);
        assert!(refused.contains("cursor is not valid"), "{refused}");
        let refused = admin.refused(&[
            "list-conversions",
            "--account",
            DEMO_ACCOUNT_ID,
            "--query",
            "limit=0",
        ]);
        assert!(
            refused.contains("limit must be an integer between 1 and 200"),
            "{refused}"
        );
    })
    .await;
}

#[tokio::test]
async fn seed_demo_is_idempotent_and_gives_a_working_key() {
    on_each_backend(|backend| async move {
        let admin = Admin::new(&backend);
        admin.ok(&["create-tables"]);
        let first = admin.ok(&["seed-demo"]);
        let second = admin.ok(&["seed-demo"]);
        assert_eq!(first["api_key"], second["api_key"]);
        assert_eq!(
            first["conversion_type"]["id"],
            "123e4567-e89b-12d3-a456-426614174100"
        );
        assert_eq!(first["lead_id"], "123e4567-e89b-12d3-a456-426614174200");
        assert_eq!(
            first["workflow_run_id"],
            "123e4567-e89b-12d3-a456-426614174400"
        );
        let response = admin
            .app()
            .handle(fixture("create-with-workflow-run"))
            .await;
        assert_eq!(response.status(), 201, "{}", backend.name);
    })
    .await;
}

#[test]
fn bad_input_exits_2_with_one_line_on_stderr() {
    let backend = &backends()[0];
    let admin = Admin::new(backend);
    let account = uuid::Uuid::new_v4().to_string();
    let conversion_type = |rest: &[&str]| -> Vec<String> {
        let base = [
            "create-conversion-type",
            "--account",
            &account,
            "--name",
            "X",
        ];
        base.iter()
            .chain(rest)
            .map(|arg| (*arg).to_owned())
            .collect()
    };
    let words =
        |args: &[&str]| -> Vec<String> { args.iter().map(|arg| (*arg).to_owned()).collect() };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (words(&["create-account"]), "--name"),
        (
            words(&["create-api-key", "--account", "not-a-uuid"]),
            "not-a-uuid",
        ),
        (
            conversion_type(&[
                "--category",
                "upsell",
                "--currency",
                "USD",
                "--workflow-id",
                &account,
            ]),
            "upsell",
        ),
        (
            conversion_type(&[
                "--category",
                "final",
                "--currency",
                "ZZZ",
                "--workflow-id",
                &account,
            ]),
            "ISO 4217",
        ),
        (
            conversion_type(&["--category", "final", "--currency", "USD"]),
            "--workflow-id",
        ),
        (
            conversion_type(&[
                "--category",
                "final",
                "--currency",
                "USD",
                "--workflow-id",
                &account,
                "--field",
                "broker",
            ]),
            "key:label",
        ),
        (
            words(&["revoke-api-key", "--account", &account, "--key-id", "abc"]),
            "16 hex digits",
        ),
        (
            words(&["revoke-api-key", "--account", &account]),
            "required",
        ),
        (words(&["revoke-api-key", "--key", "nxr_live_abc"]), "--key"),
        (
            words(&["create-lead", "--account", &account, "--replace"]),
            "--replace",
        ),
        (words(&["no-such-command"]), "no-such-command"),
    ];
    for (args, mentions) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let line = admin.refused(&args);
        assert!(line.contains(mentions), "{args:?}: {line}");
    }
}

#[tokio::test]
async fn references_to_missing_records_are_refused() {
    on_each_backend(|backend| async move {
        let admin = Admin::new(&backend);
        admin.ok(&["create-tables"]);
        let stranger = uuid::Uuid::new_v4().to_string();
        assert!(
            admin
                .refused(&["create-api-key", "--account", &stranger])
                .contains("no account")
        );
        let account = admin.ok(&["create-account", "--name", "A"]);
        let account_id = text(&account, "id");
        let line = admin.refused(&[
            "create-workflow-run",
            "--account",
            account_id,
            "--lead-id",
            &stranger,
            "--workflow-id",
            &stranger,
        ]);
        assert!(line.contains("no lead"), "{line}");
        let unknown = admin.revoke_from_stdin("nxr_live_unknown");
        assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
        assert!(String::from_utf8_lossy(&unknown.stderr).contains("no such API key"));
        let line = admin.refused(&[
            "revoke-api-key",
            "--account",
            account_id,
            "--key-id",
            "0123456789abcdef",
        ]);
        assert!(line.contains("no API key 0123456789abcdef"), "{line}");
        assert!(
            admin
                .refused(&[
                    "deactivate-conversion-type",
                    "--account",
                    account_id,
                    "--id",
                    &stranger
                ])
                .contains("no conversion type")
        );
    })
    .await;
}

#[test]
fn a_store_failure_exits_1_and_names_its_cause() {
    let backend = &backends()[0];
    let admin = Admin::new(backend); // its table was never created
    let output = admin.run(&["create-account", "--name", "A"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: the store request failed: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("ResourceNotFound"),
        "the cause is named: {stderr}"
    );
}

#[test]
fn seed_demo_refuses_a_table_that_is_not_local_before_any_call() {
    // A listener on this machine stands for DynamoDB behind an https:// endpoint (not local by
    // the rule): it counts the connections the admin CLI opens to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("https://{}", listener.local_addr().unwrap());
    let connections = || std::iter::from_fn(|| listener.accept().ok()).count();
    let backend = &backends()[0];
    let admin = Admin::new(backend);

    let output = admin.run_at(&endpoint, &["seed-demo"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: seed-demo writes a public API key")
            && stderr.contains(&endpoint)
            && stderr.contains("--allow-remote"),
        "{stderr}"
    );
    assert_eq!(connections(), 0, "refused before any call");

    // Asked to, it goes ahead (and fails here: the listener speaks no TLS).
    let output = admin.run_at(&endpoint, &["seed-demo", "--allow-remote"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(connections() > 0);
}

#[test]
fn every_command_has_help() {
    let backend = &backends()[0];
    let admin = Admin::new(backend);
    for command in [
        "create-tables",
        "create-account",
        "create-api-key",
        "list-api-keys",
        "revoke-api-key",
        "create-conversion-type",
        "deactivate-conversion-type",
        "activate-conversion-type",
        "create-lead",
        "create-workflow-run",
        "seed-demo",
    ] {
        let output = admin.run(&[command, "--help"]);
        assert!(output.status.success(), "{command} --help");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage: conversions-admin"),
            "{command}"
        );
    }
    let output = admin.run(&["--help"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("create-conversion-type"));
}

/// One rule for every create: the same record again is reported as existing (exit 0), another
/// with the same id is refused (exit 2) unless --replace, and nothing is merged silently.
#[tokio::test]
async fn a_create_of_an_existing_id_is_reported_refused_or_replaced() {
    on_each_backend(|backend| async move {
        let admin = Admin::new(&backend);
        admin.ok(&["create-tables"]);
        let name = &backend.name;
        let id = uuid::Uuid::new_v4().to_string();
        let created = admin.ok(&["create-account", "--id", &id, "--name", "Andes"]);
        assert_eq!(created["status"], "created", "{name}");
        let again = admin.ok(&["create-account", "--id", &id, "--name", "Andes"]);
        assert_eq!(again["status"], "exists", "{name}");
        assert_eq!(again["created_at"], created["created_at"], "{name}");
        let line = admin.refused(&["create-account", "--id", &id, "--name", "Pacífico"]);
        assert!(line.contains("exists with other values"), "{name}: {line}");
        assert_eq!(
            admin.ok(&["create-account", "--id", &id, "--name", "Andes"])["name"],
            "Andes",
            "{name}: the refusal wrote nothing"
        );
        let replaced = admin.ok(&[
            "create-account",
            "--id",
            &id,
            "--name",
            "Pacífico",
            "--replace",
        ]);
        assert_eq!(
            (
                &replaced["status"],
                &replaced["name"],
                &replaced["created_at"]
            ),
            (
                &"replaced".into(),
                &"Pacífico".into(),
                &created["created_at"]
            ),
            "{name}"
        );

        let workflow = uuid::Uuid::new_v4().to_string();
        let type_id = uuid::Uuid::new_v4().to_string();
        let conversion_type = |currency: &str, extra: &[&str]| {
            let mut args = vec![
                "create-conversion-type",
                "--account",
                &id,
                "--id",
                &type_id,
                "--name",
                "Venta",
                "--category",
                "final",
                "--currency",
                currency,
                "--workflow-id",
                &workflow,
            ];
            args.extend_from_slice(extra);
            args.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        let run =
            |args: Vec<String>| admin.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let ok = |output: Output| -> Value {
            assert!(output.status.success(), "{output:?}");
            serde_json::from_slice(&output.stdout).unwrap()
        };
        assert_eq!(
            ok(run(conversion_type("USD", &[])))["status"],
            "created",
            "{name}"
        );
        assert_eq!(
            ok(run(conversion_type("USD", &[])))["status"],
            "exists",
            "{name}"
        );
        let refused = run(conversion_type("CLP", &[]));
        assert_eq!(refused.status.code(), Some(2), "{name}: {refused:?}");
        let inactive = run(conversion_type("USD", &["--inactive"]));
        assert_eq!(
            inactive.status.code(),
            Some(2),
            "{name}: deactivating has its command"
        );
        let replaced = ok(run(conversion_type("CLP", &["--replace"])));
        assert_eq!(
            (&replaced["status"], &replaced["currency"]),
            (&"replaced".into(), &"CLP".into())
        );

        let lead = uuid::Uuid::new_v4().to_string();
        let create_lead = ["create-lead", "--account", &id, "--id", &lead];
        assert_eq!(admin.ok(&create_lead)["status"], "created", "{name}");
        assert_eq!(admin.ok(&create_lead)["status"], "exists", "{name}");
        let run_id = uuid::Uuid::new_v4().to_string();
        let create_run = |workflow: &str| {
            admin.run(&[
                "create-workflow-run",
                "--account",
                &id,
                "--id",
                &run_id,
                "--lead-id",
                &lead,
                "--workflow-id",
                workflow,
            ])
        };
        assert_eq!(ok(create_run(&workflow))["status"], "created", "{name}");
        assert_eq!(ok(create_run(&workflow))["status"], "exists", "{name}");
        let other = uuid::Uuid::new_v4().to_string();
        assert_eq!(create_run(&other).status.code(), Some(2), "{name}");
    })
    .await;
}

/// Keys are listed and revoked by id, or all of an account's at once, from the account's own
/// records: the key itself is needed only to revoke it from standard input.
#[tokio::test]
async fn api_keys_are_listed_and_revoked_by_id_or_all_at_once() {
    on_each_backend(|backend| async move {
        let admin = Admin::new(&backend);
        admin.ok(&["create-tables"]);
        let name = &backend.name;
        let account = admin.ok(&["create-account", "--name", "Andes"]);
        let account = text(&account, "id").to_owned();
        let other = admin.ok(&["create-account", "--name", "Other"]);
        let other = text(&other, "id").to_owned();
        let create = |account: &str| admin.ok(&["create-api-key", "--account", account]);
        let (first, second, theirs) = (create(&account), create(&account), create(&other));
        for key in [&first, &second] {
            assert_eq!(text(key, "key_id").len(), 16, "{name}: {key}");
            assert!(!text(key, "api_key").contains(text(key, "key_id")));
        }
        let listed = admin.ok(&["list-api-keys", "--account", &account]);
        let listed = listed["api_keys"].as_array().unwrap().clone();
        assert_eq!(listed.len(), 2, "{name}: {listed:?}");
        assert!(
            listed
                .iter()
                .all(|k| k["status"] == "active" && k.get("api_key").is_none())
        );

        let app = admin.app();
        let works = |key: &Value| {
            let key = text(key, "api_key").to_owned();
            let app = &app;
            async move {
                let response = app
                    .handle(fixture("list-conversion-types").with_header("x-api-key", &key))
                    .await;
                response.status() == 200
            }
        };
        assert!(works(&first).await && works(&second).await && works(&theirs).await);

        let revoked = admin.ok(&[
            "revoke-api-key",
            "--account",
            &account,
            "--key-id",
            text(&first, "key_id"),
        ]);
        assert_eq!(
            revoked["revoked"],
            serde_json::json!([text(&first, "key_id")])
        );
        assert!(!works(&first).await && works(&second).await, "{name}");
        let listed = admin.ok(&["list-api-keys", "--account", &account]);
        let revoked_one = listed["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key_id"] == first["key_id"])
            .unwrap()
            .clone();
        assert_eq!(revoked_one["status"], "revoked", "{name}");
        assert!(revoked_one["revoked_at"].is_string(), "{name}");

        let all = admin.ok(&["revoke-api-key", "--account", &account, "--all"]);
        assert_eq!(
            all["revoked"],
            serde_json::json!([text(&second, "key_id")]),
            "{name}"
        );
        assert!(!works(&second).await, "{name}");
        assert!(
            works(&theirs).await,
            "{name}: another account's key is untouched"
        );
    })
    .await;
}
