//! A minimal Lambda Runtime API: the `/runtime/invocation/next`, `/response` and `/error` calls
//! the runtime client makes. The tests run the function's binary under it, and `make bench`
//! (benches/end_to_end/) measures it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Where an invocation's answer goes: its body, and how long the function had the event.
type Answer = oneshot::Sender<(String, Duration)>;

/// The Runtime API's invocation loop, as much of it as the runtime client uses: `next` hands out
/// queued events, `response` and `error` answer them.
#[derive(Clone)]
pub struct Emulator {
    pub address: String,
    queue: mpsc::UnboundedSender<(String, String)>,
    waiting: Arc<Mutex<HashMap<String, Answer>>>,
    handed: Arc<Mutex<HashMap<String, Instant>>>,
    pub first_next: Arc<Mutex<Option<Instant>>>,
}

impl Emulator {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address").to_string();
        let (queue, events) = mpsc::unbounded_channel();
        let events = Arc::new(tokio::sync::Mutex::new(events));
        let emulator = Self {
            address,
            queue,
            waiting: Arc::default(),
            handed: Arc::default(),
            first_next: Arc::default(),
        };
        let serving = emulator.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serving.clone().connection(stream, events.clone()));
            }
        });
        emulator
    }

    async fn connection(
        self,
        stream: TcpStream,
        events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>>,
    ) {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        loop {
            let mut line = String::new();
            if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut length = 0;
            loop {
                let mut header = String::new();
                if read.read_line(&mut header).await.unwrap_or(0) == 0 {
                    return;
                }
                if header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if read.read_exact(&mut body).await.is_err() {
                return;
            }
            let answer = if path.ends_with("/invocation/next") {
                self.first_next
                    .lock()
                    .unwrap()
                    .get_or_insert_with(Instant::now);
                let Some((id, event)) = events.lock().await.recv().await else {
                    return;
                };
                self.handed
                    .lock()
                    .unwrap()
                    .insert(id.clone(), Instant::now());
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Lambda-Runtime-Aws-Request-Id: {id}\r\n\
                     Lambda-Runtime-Deadline-Ms: {}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:conversions\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
                     Content-Length: {}\r\n\r\n{event}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis()
                        + 10_000,
                    event.len()
                )
            } else {
                // `/invocation/<id>/response`, `/invocation/<id>/error`, `/init/error`.
                let id = path.split('/').nth(4).unwrap_or("").to_owned();
                let sender = self.waiting.lock().unwrap().remove(&id);
                let handed = self.handed.lock().unwrap().remove(&id);
                if let Some(sender) = sender {
                    let duration = handed.map_or(Duration::ZERO, |at| at.elapsed());
                    let _ = sender.send((String::from_utf8_lossy(&body).into_owned(), duration));
                } else {
                    eprintln!(
                        "the function reported {path}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    .to_owned()
            };
            if write.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    /// Queues one event and waits for the function's answer.
    pub async fn invoke(&self, event: String) -> String {
        self.invoke_timed(event).await.0
    }

    /// Queues one event and waits for the function's answer, and how long the function had it
    /// (from handing it out on `/next` to its response: what Lambda bills as duration).
    pub async fn invoke_timed(&self, event: String) -> (String, Duration) {
        let id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        self.waiting.lock().unwrap().insert(id.clone(), answer);
        self.queue.send((id, event)).expect("the emulator runs");
        answered.await.expect("the function answers")
    }
}
