//! Fuzz target `parsers`: the body is integration_tests::fuzz::parsers, shared
//! with the test suite, which replays every saved input on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| integration_tests::fuzz::parsers(data));
