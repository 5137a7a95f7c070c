//! Calls of AWS JSON-protocol APIs (DynamoDB Streams, EventBridge, SQS) on moto's server, for
//! the tests that set up and read what the function never calls itself. Plain HTTP/1.1: moto
//! finds the service in the signature's scope and checks no signature.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `service` as a signature's scope names it (`dynamodb` for its streams, `events`, `sqs`);
/// `target` the `X-Amz-Target` (`AmazonSQS.ReceiveMessage`). Panics unless answered 200.
pub async fn call(endpoint: &str, service: &str, target: &str, body: &Value) -> Value {
    let address = endpoint.trim_start_matches("http://");
    let body = body.to_string();
    let version = if service == "events" { "1.1" } else { "1.0" };
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/x-amz-json-{version}\r\n\
         x-amz-target: {target}\r\nauthorization: AWS4-HMAC-SHA256 \
         Credential=local/20261207/us-east-1/{service}/aws4_request, SignedHeaders=host, \
         Signature=0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(address).await.expect("moto's server");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let mut content = answer[end..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        content = dechunked(&content);
    }
    assert!(
        head.starts_with("http/1.1 200") || head.starts_with("http/1.0 200"),
        "{target}: {head}{}",
        String::from_utf8_lossy(&content)
    );
    if content.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&content).unwrap_or_else(|e| panic!("{target}: {e}"))
}

fn dechunked(mut chunks: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line) = chunks.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&chunks[..line]).unwrap().trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            break;
        }
        body.extend_from_slice(&chunks[line + 2..line + 2 + size]);
        chunks = &chunks[line + 2 + size + 2..];
    }
    body
}
