//! A fault point between the function and a real local DynamoDB: an HTTP proxy on 127.0.0.1
//! that forwards every request to the server, unless told to fail the next requests of an
//! operation in one of the ways a network or DynamoDB fails. It records every operation it is
//! sent, retries included.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conversions::sdk::DYNAMODB_ATTEMPT_TIMEOUT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How a request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request reaches the server, which commits it; the answer is lost (the connection is
    /// reset instead).
    DropAnswer,
    /// The request reaches the server; its answer's head and half its body arrive, then the
    /// connection is reset.
    CutAnswer,
    /// DynamoDB's error answer with this status and error code; the server never sees the request.
    Error { status: u16, code: &'static str },
    /// The connection is reset once the request is read: the server never sees it.
    ResetBeforeRequest,
    /// No answer at all.
    Silence,
    /// The request reaches the server, which commits it; the answer comes after the SDK's
    /// attempt time-out, to a client that has given up on it.
    LateAnswer,
    /// The request reaches the server after this long, and is answered as usual.
    Delay(Duration),
    /// EventBridge's partial failure of a `PutEvents`: every other entry (the second, the
    /// fourth, ...) is taken out before the request reaches the server, and answered failed.
    FailEntries,
}

/// How late a [`Fault::LateAnswer`] comes: past the function's attempt time-out.
const LATE: Duration = DYNAMODB_ATTEMPT_TIMEOUT.saturating_add(Duration::from_secs(1));

struct Rule {
    operation: &'static str,
    planned: usize,
    remaining: usize,
    fault: Fault,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<String>,
    failed_entries: usize,
}

impl State {
    /// Records the operation and takes the fault planned for it, if any.
    fn next(&mut self, operation: &str) -> Option<Fault> {
        self.seen.push(operation.to_owned());
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.operation == operation && r.remaining > 0)?;
        rule.remaining -= 1;
        Some(rule.fault)
    }
}

/// The proxy; stops when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on a free port of 127.0.0.1 in front of `upstream` (`http://127.0.0.1:P`).
    pub async fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("the server's endpoint is http://127.0.0.1:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream, Arc::clone(&shared)));
            }
        });
        Self {
            address,
            state,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Fails the next `times` requests of the operation (`PutItem`, `GetItem`, ...).
    pub fn fail(&self, operation: &'static str, fault: Fault, times: usize) {
        self.state.lock().unwrap().rules.push(Rule {
            operation,
            planned: times,
            remaining: times,
            fault,
        });
    }

    /// Every operation the proxy was sent, in order.
    pub fn operations(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many faults the proxy injected into requests of the operation.
    pub fn injected(&self, operation: &str) -> usize {
        let state = self.state.lock().unwrap();
        (state.rules.iter().filter(|r| r.operation == operation))
            .map(|r| r.planned - r.remaining)
            .sum()
    }

    /// Fails unless every fault planned with [`Self::fail`] was injected (for a `usize::MAX`
    /// plan, at least one).
    pub fn assert_spent(&self, context: &str) {
        let state = self.state.lock().unwrap();
        for rule in &state.rules {
            let spent = match rule.planned {
                usize::MAX => rule.remaining < rule.planned,
                _ => rule.remaining == 0,
            };
            assert!(
                spent,
                "{context}: {} {:?} planned, {} left uninjected",
                rule.operation, rule.fault, rule.remaining
            );
        }
    }

    /// How many `PutEvents` entries [`Fault::FailEntries`] answered failed.
    pub fn failed_entries(&self) -> usize {
        self.state.lock().unwrap().failed_entries
    }

    /// How many requests of the operation the proxy was sent.
    pub fn count(&self, operation: &str) -> usize {
        self.operations()
            .iter()
            .filter(|seen| *seen == operation)
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one client connection, one request after another, each forwarded on a connection of
/// its own.
async fn serve(mut client: TcpStream, upstream: SocketAddr, state: Arc<Mutex<State>>) {
    while let Some((head, body)) = read_request(&mut client).await {
        let operation = header(&head, "x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("?")
            .to_owned();
        let fault = state.lock().unwrap().next(&operation);
        match fault {
            Some(Fault::Error { status, code }) => {
                let body = format!(
                    r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected by the test proxy"}}"#
                );
                let answer = format!(
                    "HTTP/1.1 {status} Injected\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     content-length: {}\r\nx-amzn-requestid: injected\r\n\r\n{body}",
                    body.len()
                );
                if client.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
            Some(Fault::Silence) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Some(Fault::ResetBeforeRequest) => return reset(client),
            Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Some(Fault::DropAnswer | Fault::CutAnswer | Fault::LateAnswer | Fault::FailEntries)
            | None => {}
        }
        let (head, body, failed) = match fault {
            Some(Fault::FailEntries) => without_every_other_entry(&head, &body),
            _ => (head, body, Vec::new()),
        };
        let Some(answer) = forward(upstream, &head, &body).await else {
            return;
        };
        let answer = match failed.is_empty() {
            true => answer,
            false => {
                let rewritten = with_failed_entries(&answer, &failed);
                state.lock().unwrap().failed_entries += failed.len();
                rewritten
            }
        };
        match fault {
            Some(Fault::DropAnswer) => return reset(client),
            Some(Fault::CutAnswer) => {
                let head = answer
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map_or(0, |end| end + 4);
                let cut = head + (answer.len() - head) / 2;
                let _ = client.write_all(&answer[..cut]).await;
                return reset(client);
            }
            Some(Fault::LateAnswer) => {
                tokio::time::sleep(LATE).await;
                let _ = client.write_all(&answer).await;
                return;
            }
            _ => {
                let _ = client.write_all(&answer).await;
                // The answer said `connection: close`: the client opens a new connection.
                return;
            }
        }
    }
}

/// The request without its second, fourth, ... entry, and their positions.
fn without_every_other_entry(head: &str, body: &[u8]) -> (String, Vec<u8>, Vec<usize>) {
    let mut request: serde_json::Value = serde_json::from_slice(body).expect("a JSON request");
    let entries = request["Entries"]
        .as_array_mut()
        .expect("PutEvents entries");
    let failed: Vec<usize> = (1..entries.len()).step_by(2).collect();
    let mut position = 0;
    entries.retain(|_| {
        position += 1;
        !failed.contains(&(position - 1))
    });
    let body = serde_json::to_vec(&request).unwrap();
    (with_length(head, body.len()), body, failed)
}

/// The server's answer to the entries it was sent, with the entries taken out answered failed
/// in their places.
fn with_failed_entries(answer: &[u8], failed: &[usize]) -> Vec<u8> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8(answer[..end].to_vec()).unwrap();
    let mut body: serde_json::Value = serde_json::from_slice(&answer[end..]).expect("JSON");
    let mut sent = body["Entries"]
        .as_array()
        .expect("entries")
        .clone()
        .into_iter();
    let failure = serde_json::json!({
        "ErrorCode": "InternalFailure",
        "ErrorMessage": "injected by the test proxy",
    });
    let all: Vec<serde_json::Value> = (0..sent.len() + failed.len())
        .map(|i| match failed.contains(&i) {
            true => failure.clone(),
            false => sent.next().expect("an answer for each entry sent"),
        })
        .collect();
    let count = body["FailedEntryCount"].as_u64().unwrap_or(0) + failed.len() as u64;
    body["Entries"] = all.into();
    body["FailedEntryCount"] = count.into();
    let body = serde_json::to_vec(&body).unwrap();
    let mut rewritten = with_length(&head, body.len()).into_bytes();
    rewritten.extend_from_slice(&body);
    rewritten
}

/// The head with its `content-length` replaced.
fn with_length(head: &str, length: usize) -> String {
    let mut lines: Vec<String> = (head.trim_end_matches("\r\n").split("\r\n"))
        .filter(|line| {
            !line
                .split_once(':')
                .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        })
        .map(str::to_owned)
        .collect();
    lines.push(format!("content-length: {length}"));
    format!("{}\r\n\r\n", lines.join("\r\n"))
}

/// Closes the connection with a reset, as a failing network does.
fn reset(client: TcpStream) {
    let _ = client.set_zero_linger();
    drop(client);
}

/// One request's head (up to the blank line) and body, or `None` when the client is done.
async fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let read = client.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8(buffer[..end].to_vec()).ok()?;
    let length: usize = header(&head, "content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buffer[end..].to_vec();
    while body.len() < length {
        let read = client.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some((head, body))
}

/// Sends the request to the server on a new connection and returns its whole answer, rewritten
/// to close the client's connection after it (the server closes its own).
async fn forward(upstream: SocketAddr, head: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).await.ok()?;
    server
        .write_all(with_connection_close(head).as_bytes())
        .await
        .ok()?;
    server.write_all(body).await.ok()?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await.ok()?;
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let answer_head = String::from_utf8(answer[..end].to_vec()).ok()?;
    let mut rewritten = with_connection_close(&answer_head).into_bytes();
    rewritten.extend_from_slice(&answer[end..]);
    Some(rewritten)
}

/// The head with its `connection` header replaced by `connection: close`.
fn with_connection_close(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|line| {
            !line
                .split_once(':')
                .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("connection"))
        })
        .collect();
    lines.push("connection: close");
    format!("{}\r\n\r\n", lines.join("\r\n"))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
