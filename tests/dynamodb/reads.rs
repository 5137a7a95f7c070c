//! The read side against dynalite and moto: every filter and combination, time windows, the
//! order with ties, `limit`/`offset`, cursor paging, `total`, and tenant isolation. The
//! in-memory store is the model: the same events written to both must list the same way.

use std::collections::HashSet;

use conversions::domain::{
    AccountId, Amount, Category, ConversionEvent, ConversionType, ConversionTypeId, Currency,
    Cursor, EventFilter, EventId, LeadId, Limit, MasterWorkflowId, Metadata, Offset, Page,
    PageRequest, Position, Resume, Scope, Timestamp, Total, Window, WorkflowId, WorkflowRun,
    WorkflowRunId, WriteToken,
};
use conversions::store::{DynamoStore, NewEvent, Provisioning, Record, Store};

use crate::memory::MemoryStore;

use crate::helpers::on_each_backend;

/// The ids events are drawn from: two of each, so that every filter splits the events.
struct Ids {
    leads: [LeadId; 2],
    types: [ConversionTypeId; 2],
    workflows: [WorkflowId; 2],
    masters: [MasterWorkflowId; 2],
    runs: [WorkflowRunId; 2],
}

impl Ids {
    fn random() -> Self {
        Self {
            leads: [LeadId::random(), LeadId::random()],
            types: [ConversionTypeId::random(), ConversionTypeId::random()],
            workflows: [WorkflowId::random(), WorkflowId::random()],
            masters: [MasterWorkflowId::random(), MasterWorkflowId::random()],
            runs: [WorkflowRunId::random(), WorkflowRunId::random()],
        }
    }
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

/// Instants with ties: several events share each.
const INSTANTS: [&str; 5] = [
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00.5Z",
    "2026-01-02T12:00:00Z",
    "2026-02-01T00:00:00Z",
    "2026-03-01T09:30:00.123456789Z",
];

/// `n` events spread over every combination of the ids, the instants and the scopes.
fn events(ids: &Ids, n: usize) -> Vec<ConversionEvent> {
    (0..n)
        .map(|i| {
            let scoped_to_master = i % 3 == 0;
            let with_run = i % 4 != 0;
            ConversionEvent {
                id: EventId::random(),
                conversion_type_id: ids.types[i % 2],
                lead_id: ids.leads[(i / 2) % 2],
                // A master-workflow type's event has a workflow too when it has a run (the
                // run's), as the service records it.
                workflow_id: (!scoped_to_master || with_run).then_some(ids.workflows[(i / 3) % 2]),
                master_workflow_id: scoped_to_master.then_some(ids.masters[(i / 5) % 2]),
                // A run is one lead's (the create path checks it): the lead's run.
                workflow_run_id: with_run.then_some(ids.runs[(i / 2) % 2]),
                amount: Amount::parse_json_number(&format!("{i}.25")).unwrap(),
                currency: Currency::parse("USD").unwrap(),
                metadata: Metadata::from_json("{}").unwrap(),
                notes: None,
                converted_at: at(INSTANTS[i % INSTANTS.len()]),
                created_at: Timestamp::now(),
            }
        })
        .collect()
}

/// The events, and the conversion types and runs they name (a list shows each event's type,
/// and a list by run reads its lead's events); the events as written: one made over 10 s ago
/// is stamped anew if `restamp` (for DynamoDB: a change is written within 25 s of its stamp or
/// not at all); the model takes them as given (`false`), so it holds what the store holds.
async fn write<S: Store + Provisioning>(
    store: &S,
    account: AccountId,
    events: &[ConversionEvent],
    restamp: bool,
) -> Vec<ConversionEvent> {
    let (mut types, mut runs) = (HashSet::new(), HashSet::new());
    let mut written = Vec::with_capacity(events.len());
    for event in events {
        let stale = restamp
            && event.created_at < Timestamp::now().minus(std::time::Duration::from_secs(10));
        let event = &ConversionEvent {
            created_at: if stale {
                Timestamp::now()
            } else {
                event.created_at
            },
            ..event.clone()
        };
        written.push(event.clone());
        if types.insert(event.conversion_type_id) {
            let conversion_type = ConversionType {
                id: event.conversion_type_id,
                name: "Reserva".into(),
                description: None,
                category: Category::Intermediary,
                currency: Currency::parse("USD").unwrap(),
                fields: Vec::new(),
                scope: Scope::Workflow(
                    WorkflowId::parse(conversions::seed::DEMO_WORKFLOW_ID).unwrap(),
                ),
                active: true,
                created_at: at(INSTANTS[0]),
            };
            store
                .put(&Record::ConversionType(account, conversion_type.clone()))
                .await
                .unwrap();
        }
        if let Some(run) = event.workflow_run_id.filter(|run| runs.insert(*run)) {
            let run = WorkflowRun {
                id: run,
                lead_id: event.lead_id,
                workflow_id: event.workflow_id.unwrap_or_else(WorkflowId::random),
                master_workflow_id: event.master_workflow_id,
                created_at: Timestamp::now(),
            };
            store
                .put(&Record::WorkflowRun(account, run.clone()))
                .await
                .unwrap();
        }
        store
            .insert_event(
                account,
                NewEvent {
                    event,
                    write_token: WriteToken::random(),
                },
            )
            .await
            .unwrap();
    }
    written
}

/// Every filter the API takes, alone and combined, with and without a window.
fn filters(ids: &Ids) -> Vec<EventFilter> {
    let none = EventFilter::default();
    let singles = [
        EventFilter {
            lead: Some(ids.leads[0]),
            ..none
        },
        EventFilter {
            conversion_type: Some(ids.types[1]),
            ..none
        },
        EventFilter {
            workflow: Some(ids.workflows[0]),
            ..none
        },
        EventFilter {
            master_workflow: Some(ids.masters[1]),
            ..none
        },
        EventFilter {
            workflow_run: Some(ids.runs[0]),
            ..none
        },
    ];
    let mut all = vec![none];
    all.extend(singles);
    all.extend([
        EventFilter {
            lead: Some(ids.leads[1]),
            conversion_type: Some(ids.types[0]),
            ..none
        },
        EventFilter {
            lead: Some(ids.leads[0]),
            workflow_run: Some(ids.runs[1]),
            workflow: Some(ids.workflows[1]),
            ..none
        },
        EventFilter {
            conversion_type: Some(ids.types[0]),
            master_workflow: Some(ids.masters[0]),
            ..none
        },
        EventFilter {
            lead: Some(ids.leads[0]),
            conversion_type: Some(ids.types[0]),
            workflow: Some(ids.workflows[0]),
            workflow_run: Some(ids.runs[0]),
            ..none
        },
        // A workflow and a master workflow: only master-scoped events with a run have both.
        EventFilter {
            workflow: Some(ids.workflows[0]),
            master_workflow: Some(ids.masters[0]),
            ..none
        },
    ]);
    let windows = [
        Window::new(Some(at(INSTANTS[1])), None).unwrap(),
        Window::new(None, Some(at(INSTANTS[3]))).unwrap(),
        Window::new(Some(at(INSTANTS[1])), Some(at(INSTANTS[4]))).unwrap(),
        Window::new(Some(at("2027-01-01T00:00:00Z")), None).unwrap(),
    ];
    let windowed: Vec<EventFilter> = all
        .iter()
        .take(3)
        .flat_map(|f| {
            windows
                .iter()
                .map(move |w| EventFilter { window: *w, ..*f })
        })
        .collect();
    all.extend(windowed);
    all
}

/// The first page of 4 of a filter's events.
async fn first_page<S: Store>(store: &S, account: AccountId, filter: EventFilter) -> Page {
    store
        .list_events(
            account,
            &PageRequest::new(filter, None, Offset::default(), Limit::parse("4").unwrap()),
        )
        .await
        .unwrap()
}

/// Every event a filter lists, page after page through `next`, checking each page's size.
async fn list_all<S: Store>(
    store: &S,
    account: AccountId,
    filter: EventFilter,
    limit: u32,
) -> Vec<EventId> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_events(
                account,
                &PageRequest::new(
                    filter,
                    after,
                    Offset::default(),
                    Limit::parse(&limit.to_string()).unwrap(),
                ),
            )
            .await
            .unwrap();
        assert!(page.events.len() <= limit as usize);
        // A cursor that led back would list an event twice: fail rather than page forever.
        assert!(
            page.events.iter().all(|e| !seen.contains(&e.event.id)),
            "an event listed twice"
        );
        seen.extend(page.events.iter().map(|e| e.event.id));
        match page.next {
            Some(next) => {
                assert_eq!(
                    page.events.len(),
                    limit as usize,
                    "only the last page is short"
                );
                after = Some(next);
            }
            None => return seen,
        }
    }
}

async fn seeded(backend_store: &DynamoStore) -> (AccountId, Ids, MemoryStore, AccountId) {
    let account = AccountId::random();
    let ids = Ids::random();
    let model = MemoryStore::new();
    let events = events(&ids, 40);
    let events = write(backend_store, account, &events, true).await;
    write(&model, account, &events, false).await;
    // Another account with events under the same lead, type, workflow and run ids.
    let other = AccountId::random();
    write(backend_store, other, &self::events(&ids, 12), true).await;
    (account, ids, model, other)
}

#[tokio::test]
async fn every_filter_lists_and_counts_what_the_model_does_page_by_page() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let (account, ids, model, _) = seeded(&store).await;
        for filter in filters(&ids) {
            let expected = list_all(&model, account, filter, 200).await;
            for limit in [1, 7, 200] {
                let listed = list_all(&store, account, filter, limit).await;
                assert_eq!(
                    listed, expected,
                    "{}: limit {limit}, {filter:?}",
                    backend.name
                );
            }
            let total = first_page(&store, account, filter).await.total;
            assert_eq!(
                total,
                Total::Exact(expected.len() as u64),
                "{}: total of {filter:?}",
                backend.name
            );
        }
    })
    .await;
}

#[tokio::test]
async fn offset_skips_matching_events_and_limit_bounds_the_page() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let (account, ids, model, _) = seeded(&store).await;
        let filter = EventFilter {
            lead: Some(ids.leads[0]),
            ..EventFilter::default()
        };
        let all = list_all(&model, account, filter, 200).await;
        for (offset, limit) in [(0, 5), (3, 4), (17, 3), (19, 10), (20, 1), (500, 5)] {
            let page = store
                .list_events(
                    account,
                    &PageRequest::new(
                        filter,
                        None,
                        Offset::parse(&offset.to_string()).unwrap(),
                        Limit::parse(&limit.to_string()).unwrap(),
                    ),
                )
                .await
                .unwrap();
            let expected: Vec<EventId> = all.iter().skip(offset).take(limit).copied().collect();
            assert_eq!(
                page.events.iter().map(|e| e.event.id).collect::<Vec<_>>(),
                expected,
                "{}: offset {offset} limit {limit}",
                backend.name
            );
            assert_eq!(
                page.next.is_some(),
                all.len() > offset + limit,
                "{}: next after offset {offset} limit {limit}",
                backend.name
            );
        }
    })
    .await;
}

#[tokio::test]
async fn cursor_paging_loses_and_repeats_nothing_while_new_events_arrive() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let (account, ids, _, _) = seeded(&store).await;
        let filter = EventFilter::default();
        let before: Vec<EventId> = list_all(&store, account, filter, 200).await;
        let mut seen = Vec::new();
        let mut after = None;
        let mut round = 0;
        loop {
            let page = store
                .list_events(
                    account,
                    &PageRequest::new(filter, after, Offset::default(), Limit::parse("6").unwrap()),
                )
                .await
                .unwrap();
            seen.extend(page.events.iter().map(|e| e.event.id));
            // Between pages: one event newer than everything, one as old as the oldest.
            let mut arriving = events(&ids, 2);
            arriving[0].converted_at = Timestamp::now();
            arriving[1].converted_at = at(INSTANTS[0]);
            write(&store, account, &arriving, true).await;
            round += 1;
            match page.next {
                Some(next) if round < 100 => after = Some(next),
                _ => break,
            }
        }
        let unique: HashSet<EventId> = seen.iter().copied().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{}: an event was listed twice",
            backend.name
        );
        for id in &before {
            assert!(unique.contains(id), "{}: {id} was lost", backend.name);
        }
    })
    .await;
}

#[tokio::test]
async fn a_cursor_resumes_exactly_after_its_event_among_ties() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let account = AccountId::random();
        let ids = Ids::random();
        let mut tied = events(&ids, 9);
        for event in &mut tied {
            event.converted_at = at(INSTANTS[2]);
        }
        write(&store, account, &tied, true).await;
        let mut expected: Vec<EventId> = tied.iter().map(|e| e.id).collect();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(
            list_all(&store, account, EventFilter::default(), 2).await,
            expected,
            "{}",
            backend.name
        );
        // The cursor the API hands out reads back to the same place.
        let page = first_page(&store, account, EventFilter::default()).await;
        let next = page.next.unwrap();
        let cursor = Cursor::new(account, &EventFilter::default(), next);
        assert_eq!(
            Cursor::read(cursor.as_str(), account, &EventFilter::default()),
            Ok(next)
        );
        // After the fourth listed, by its own place: (converted_at, id), no skip.
        let fourth = tied.iter().find(|e| e.id == expected[3]).unwrap();
        let place = Resume {
            after: Position::of(fourth),
            skip: 0,
        };
        assert_eq!(next, place, "{}", backend.name);
    })
    .await;
}

/// Through the function: requests at once, then every page of the list and its `total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn total_equals_the_events_listed_after_concurrent_writes() {
    use conversions::http::{Body, Request};
    use conversions::seed::{
        DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, DEMO_WORKFLOW_RUN_ID,
    };
    use std::sync::Arc;

    const WRITES: usize = 40;
    on_each_backend(|backend| async move {
        let (app, _, _) = backend.counted_demo_app().await;
        let app = Arc::new(app);
        let writes = (0..WRITES).map(|i| {
            let app = app.clone();
            let run = if i % 2 == 0 {
                format!(r#","workflow_run_id":"{DEMO_WORKFLOW_RUN_ID}""#)
            } else {
                String::new()
            };
            let body = format!(
                r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":{i},"converted_at":"{}"{run}}}"#,
                INSTANTS[i % INSTANTS.len()]
            );
            tokio::spawn(async move {
                app.handle(crate::helpers::post_as(DEMO_API_KEY, body))
                    .await
                    .status()
                    .as_u16()
            })
        });
        for status in futures_util::future::join_all(writes).await {
            assert_eq!(status.unwrap(), 201, "{}", backend.name);
        }
        for (filter, expected) in [
            (String::new(), WRITES),
            (
                format!("workflow_run_id={DEMO_WORKFLOW_RUN_ID}&"),
                WRITES / 2,
            ),
            (
                format!("lead_id={DEMO_LEAD_ID}&converted_after={}&", INSTANTS[3]),
                16,
            ),
        ] {
            let mut listed = HashSet::new();
            let mut query = format!("{filter}limit=7");
            loop {
                let response = app
                    .handle(
                        Request::new("GET", "/conversions")
                            .with_query(&query)
                            .with_header("x-api-key", DEMO_API_KEY)
                            .with_body(Body::Text(String::new())),
                    )
                    .await;
                let body = crate::helpers::body_json(&response);
                assert_eq!(body["total"], expected, "{}: {query}", backend.name);
                for event in body["conversion_events"].as_array().unwrap() {
                    assert!(listed.insert(event["id"].as_str().unwrap().to_owned()));
                }
                match body["next_cursor"].as_str() {
                    Some(cursor) => query = format!("{filter}limit=7&cursor={cursor}"),
                    None => break,
                }
            }
            assert_eq!(listed.len(), expected, "{}: {filter}", backend.name);
        }
    })
    .await;
}

/// A combination that matches few of many entries: the page query reads on past what its
/// first calls return (DynamoDB's `Limit` counts entries read, not entries kept), and paging by
/// cursor with an offset skips from the cursor's place.
#[tokio::test]
async fn a_sparse_combination_pages_through_a_large_partition() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let account = AccountId::random();
        let ids = Ids::random();
        let model = MemoryStore::new();
        let mut many = events(&ids, 420);
        // One lead, one type for all; a distinct workflow for one event in 60.
        let rare = WorkflowId::random();
        for (i, event) in many.iter_mut().enumerate() {
            event.lead_id = ids.leads[0];
            event.conversion_type_id = ids.types[0];
            event.master_workflow_id = None;
            event.workflow_id = Some(if i % 60 == 7 { rare } else { ids.workflows[0] });
        }
        let many = write(&store, account, &many, true).await;
        write(&model, account, &many, false).await;
        let filter = EventFilter {
            lead: Some(ids.leads[0]),
            workflow: Some(rare),
            ..EventFilter::default()
        };
        let expected = list_all(&model, account, filter, 200).await;
        assert_eq!(expected.len(), 7);
        for limit in [1, 2, 7] {
            assert_eq!(
                list_all(&store, account, filter, limit).await,
                expected,
                "{}: limit {limit}",
                backend.name
            );
        }
        assert_eq!(
            first_page(&store, account, filter).await.total,
            Total::Exact(7)
        );

        // Offset from a cursor's place: the first page's last event, then skip two.
        let everything = EventFilter::default();
        let all = list_all(&model, account, everything, 200).await;
        let first = store
            .list_events(
                account,
                &PageRequest::new(
                    everything,
                    None,
                    Offset::default(),
                    Limit::parse("10").unwrap(),
                ),
            )
            .await
            .unwrap();
        let skipped = store
            .list_events(
                account,
                &PageRequest::new(
                    everything,
                    first.next,
                    Offset::parse("2").unwrap(),
                    Limit::parse("5").unwrap(),
                ),
            )
            .await
            .unwrap();
        assert_eq!(
            skipped
                .events
                .iter()
                .map(|e| e.event.id)
                .collect::<Vec<_>>(),
            all[12..17],
            "{}",
            backend.name
        );

        // With a read bound of 50 entries, the same filter cuts its pages where the model
        // does, and every page and cursor is the model's, to the end.
        let (store, model) = (store.with_read_bound(50), model.with_read_bound(50));
        for (offset, limit) in [(0, 2), (3, 1), (0, 7)] {
            let mut after = None;
            let mut first = true;
            loop {
                let offset = if first { offset } else { 0 };
                let request = PageRequest::new(
                    filter,
                    after,
                    Offset::parse(&offset.to_string()).unwrap(),
                    Limit::parse(&limit.to_string()).unwrap(),
                );
                let (page, wanted) = (
                    store.list_events(account, &request).await.unwrap(),
                    model.list_events(account, &request).await.unwrap(),
                );
                assert_eq!(page, wanted, "{}: {request:?}", backend.name);
                assert!(matches!(page.total, Total::AtLeast(_)), "{}", backend.name);
                first = false;
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
    })
    .await;
}
