#![no_main]

#[path = "../../tests/support/memory.rs"]
mod memory;
#[path = "../../tests/dynamodb/helpers/openapi.rs"]
mod openapi;
#[path = "../oracles.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    oracles::stream_event(data);
});
